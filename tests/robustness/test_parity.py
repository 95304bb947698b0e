"""The CLI and the REST API against the same limits: the last value in is accepted by both,
the first value out is refused by both. Both doors are parametrized from `sqlfleet.limits`.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sqlfleet import limits
from tests.robustness.conftest import Cli, Seeded, assert_api_error, assert_refused

RETRY_PAIR = ("initial_retry_interval_seconds", "maximum_retry_interval_seconds")


def boundaries(limit: limits.Number) -> list[tuple[str, float, bool]]:
    """(which, value, accepted) at both ends of a number's range."""
    if limit.whole:
        low, high = int(limit.low), int(limit.high)
        return [
            ("low", low, True),
            ("below", low - 1, False),
            ("high", high, True),
            ("above", high + 1, False),
        ]
    return [
        ("low", limit.low, True),
        ("below", math.nextafter(limit.low, -math.inf), False),
        ("high", limit.high, True),
        ("above", math.nextafter(limit.high, math.inf), False),
    ]


CASES = [
    pytest.param(setting, value, accepted, id=f"{setting.field}-{which}")
    for setting in limits.NUMBER_SETTINGS
    if isinstance(setting.limit, limits.Number)
    for which, value, accepted in boundaries(setting.limit)
]


def changes(field: str, value: float) -> dict[str, float]:
    """The change to make; the retry intervals move together (maximum >= initial)."""
    return dict.fromkeys(RETRY_PAIR, value) if field in RETRY_PAIR else {field: value}


def typed(value: float, whole: bool) -> str:
    """A number as a user types it (repr keeps every digit of a float)."""
    return str(int(value)) if whole else repr(float(value))


@pytest.mark.parametrize(("setting", "value", "accepted"), CASES)
def test_step_numbers_have_one_boundary_on_every_door(
    cli: Cli,
    client: TestClient,
    seeded: Seeded,
    setting: limits.StepSetting,
    value: float,
    accepted: bool,
) -> None:
    assert isinstance(setting.limit, limits.Number)
    change = changes(setting.field, value)
    args = ["job", "update-step", "j", "s"]
    for field, number in change.items():
        args += [limits.STEP_SETTING[field].flag, typed(number, setting.limit.whole)]
    run = cli(*args)
    response = client.patch("/api/v1/jobs/j/steps/s", json=change)
    if accepted:
        assert run.code == 0, run.err
        assert response.status_code == 200, response.text
        step = seeded.fleet.get_job("j").step("s")
        assert step is not None
        shown: dict[str, Any] = {
            "step_timeout_seconds": step.settings.step_timeout_seconds,
            "connect_timeout_seconds": step.settings.connect_timeout_seconds,
            "max_parallelism": step.settings.max_parallelism or 0,
            "canary": step.settings.canary or 0,
            "wave_pause_seconds": step.settings.wave_pause_seconds,
            "result_rows": step.settings.result_rows,
            **{
                f: getattr(step.settings.retry, f)
                for f in ("retry_attempts", *RETRY_PAIR, "retry_interval_backoff_multiplier")
            },
        }
        assert shown[setting.field] == value
    else:
        assert_refused(run, args)
        assert setting.field in response.text or response.status_code == 422
        assert_api_error(response, f"PATCH {change}")
        assert setting.limit.range_text in run.err


TEXTS = [
    ("job name", limits.MAX_NAME),
    ("command", limits.MAX_SCRIPT),
    ("description", limits.MAX_TEXT),
]


@pytest.mark.parametrize("extra", [0, 1], ids=["at-the-limit", "one-past"])
def test_text_lengths_have_one_boundary_on_every_door(
    cli: Cli, client: TestClient, seeded: Seeded, extra: int
) -> None:
    accepted = extra == 0
    name = "n" * (limits.MAX_NAME - 1 + extra)
    for door, outcome in (
        ("cli", cli("job", "add", "c" + name).code),
        ("api", client.post("/api/v1/jobs", json={"name": "a" + name}).status_code),
    ):
        assert (outcome in (0, 201)) == accepted, (door, outcome)
    command = "-" * (limits.MAX_SCRIPT + extra - 9) + "\nSELECT 1"
    run = cli("job", "update-step", "j", "s", "--command", command)
    response = client.patch("/api/v1/jobs/j/steps/s", json={"command": command})
    assert (run.code == 0) == accepted, run.err
    assert (response.status_code == 200) == accepted, response.text[:300]
    description = "d" * (limits.MAX_TEXT + extra)
    run = cli("job", "update", "j", "--description", description)
    response = client.patch("/api/v1/jobs/j", json={"description": description})
    assert (run.code == 0) == accepted, run.err
    assert (response.status_code == 200) == accepted, response.text[:300]


@pytest.mark.parametrize("extra", [0, 1], ids=["at-the-limit", "one-past"])
def test_webhook_limits_have_one_boundary_on_every_door(
    cli: Cli, client: TestClient, seeded: Seeded, extra: int
) -> None:
    accepted = extra == 0
    base = "https://hooks.example.com/"
    url = base + "u" * (limits.MAX_URL - len(base) + extra)
    run = cli("job", "update", "j", "--notify", url)
    response = client.patch("/api/v1/jobs/j", json={"notify": [{"url": url}]})
    assert (run.code == 0) == accepted, run.err
    assert (response.status_code == 200) == accepted, response.text[:300]
    many = [f"https://h/{i}" for i in range(limits.MAX_WEBHOOKS + extra)]
    run = cli("job", "update", "j", *[a for u in many for a in ("--notify", u)])
    response = client.patch("/api/v1/jobs/j", json={"notify": [{"url": u} for u in many]})
    assert (run.code == 0) == accepted, run.err
    assert (response.status_code == 200) == accepted, response.text[:300]
    secret = "s" * (limits.NOTIFY_SECRET.max_length + extra)
    run = cli("job", "update", "j", "--notify", base, "--notify-secret-stdin", stdin=secret + "\n")
    response = client.patch("/api/v1/jobs/j", json={"notify": [{"url": base, "secret": secret}]})
    assert (run.code == 0) == accepted, run.err
    assert (response.status_code == 200) == accepted, response.text[:300]
    assert "u" * 40 not in run.err + response.text and secret not in run.err + response.text
