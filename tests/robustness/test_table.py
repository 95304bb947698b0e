"""The one table of step settings drives every door: this checks that nothing drifted."""

from __future__ import annotations

import dataclasses

import pytest

from sqlfleet import documents, limits
from sqlfleet.api.schemas import StepFields
from sqlfleet.cli import command
from sqlfleet.model import Step, StepSettings
from sqlfleet.retry import RetryPolicy


def test_every_step_setting_is_in_the_table() -> None:
    fields = {f.name for f in dataclasses.fields(StepSettings)} - {"retry", "output"}
    fields |= {f.name for f in dataclasses.fields(RetryPolicy)}
    assert {s.field for s in limits.STEP_SETTINGS} == fields
    assert set(StepFields.model_fields) == fields
    shown = documents.step(Step(1, "s", StepSettings("SELECT 1", "g", "c")))
    assert fields <= set(shown) | {"command", "target_group", "credential"}


def test_the_defaults_are_the_tables() -> None:
    settings = StepSettings("SELECT 1", "g", "c")
    for setting in limits.NUMBER_SETTINGS:
        assert isinstance(setting.limit, limits.Number)
        value = getattr(settings.retry, setting.field, None)
        if value is None:
            value = getattr(settings, setting.field)
        if setting.limit.default is None:
            assert value is None, setting.field
        else:
            assert value == setting.limit.default, setting.field


@pytest.mark.parametrize("setting", limits.NUMBER_SETTINGS, ids=lambda s: s.field)
def test_the_api_schema_has_the_tables_bounds(setting: limits.StepSetting) -> None:
    assert isinstance(setting.limit, limits.Number)
    schema = StepFields.model_json_schema()["properties"][setting.field]["anyOf"][0]
    assert (schema["minimum"], schema["maximum"]) == (setting.limit.low, setting.limit.high)
    assert schema["description"] == setting.limit.help_text


@pytest.mark.parametrize("step_command", ["add-step", "update-step"])
def test_the_cli_options_have_the_tables_help(step_command: str) -> None:
    job = command().commands["job"].commands[step_command]
    options = {name: param for param in job.params for name in param.opts}
    for setting in limits.STEP_SETTINGS:
        assert options[setting.flag].help == setting.help_text, setting.flag
