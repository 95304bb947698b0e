"""Writing the job database's definitions as a YAML file that `apply` reads back.

Secrets are not written: each credential names an environment variable to take its secret
from (`SQLFLEET_SECRET_<NAME>`), to be set (or changed to a file) before applying, and each
webhook its URL (and signing secret) from `SQLFLEET_NOTIFY_<JOB>_<N>`
(`SQLFLEET_NOTIFY_SECRET_<JOB>_<N>`). Step
settings at their default are left out, so the file says what is particular to each step.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from sqlfleet import limits
from sqlfleet.fleet import Fleet
from sqlfleet.model import Job, Member, Step, StepSettings
from sqlfleet.step_settings import setting_value


def secret_variable(credential: str) -> str:
    """The environment variable an exported credential takes its secret from."""
    return "SQLFLEET_SECRET_" + _slug(credential)


def export(fleet: Fleet, jobs: list[str] | None = None) -> str:
    """The definitions as YAML: every job (or those named) with what they refer to."""
    chosen = [fleet.get_job(name) for name in jobs] if jobs else fleet.list_jobs()
    groups = fleet.list_target_groups()
    credentials = fleet.list_credentials()
    if jobs:
        used_groups = {s.settings.target_group for j in chosen for s in j.steps}
        groups = [g for g in groups if g.name in used_groups]
        used = {s.settings.credential for j in chosen for s in j.steps}
        used |= {s.settings.output.credential for j in chosen for s in j.steps if s.settings.output}
        used |= {m.refresh_credential for g in groups for m in g.members if m.refresh_credential}
        credentials = [c for c in credentials if c.name in used]
    document = {
        "credentials": [
            {
                "name": c.name,
                "username": c.username,
                "secret": {"env": secret_variable(c.name)},
            }
            for c in credentials
        ],
        "target_groups": [
            {"name": g.name, "members": [_member(m) for m in g.members]} for g in groups
        ],
        "jobs": [_job(j) for j in chosen],
    }
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _member(member: Member) -> dict[str, Any]:
    written: dict[str, Any] = {"server": member.server_url}
    for key in ("database", "database_pattern", "schema_pattern", "shard_map_query"):
        if getattr(member, key) is not None:
            written[key] = getattr(member, key)
    if member.refresh_credential is not None:
        written["refresh_credential"] = member.refresh_credential
    if member.exclude:
        written["exclude"] = True
    if member.variables:
        written["vars"] = dict(member.variables)
    return written


def _job(job: Job) -> dict[str, Any]:
    written: dict[str, Any] = {"name": job.name}
    if job.description:
        written["description"] = job.description
    written["enabled"] = job.enabled
    if job.schedule is not None:
        schedule = job.schedule
        written["schedule"] = {
            "spec": schedule.spec,
            "timezone": schedule.timezone,
            **({"start_time": schedule.start_time} if schedule.start_time else {}),
            **({"end_time": schedule.end_time} if schedule.end_time else {}),
        }
    written["steps"] = [_step(s) for s in job.steps]
    if job.webhooks:
        written["notify"] = [
            {
                "url_env": notify_variable(job.name, i),
                "on": w.on,
                **({"secret_env": notify_variable(job.name, i, secret=True)} if w.signed else {}),
            }
            for i, w in enumerate(job.webhooks, start=1)
        ]
    return written


def notify_variable(job: str, number: int, *, secret: bool = False) -> str:
    """The environment variable an exported webhook takes its URL (or its signing secret)
    from: `SQLFLEET_NOTIFY_<JOB>_<N>`, `SQLFLEET_NOTIFY_SECRET_<JOB>_<N>`."""
    kind = "NOTIFY_SECRET" if secret else "NOTIFY"
    return f"SQLFLEET_{kind}_{_slug(job)}_{number}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


def _step(step: Step) -> dict[str, Any]:
    settings = step.settings
    defaults = StepSettings(command="", target_group="", credential="")
    written: dict[str, Any] = {"name": step.name}
    for setting in limits.STEP_SETTINGS:
        value = setting_value(settings, setting.field)
        if setting.field in ("command", "target_group", "credential") or value != setting_value(
            defaults, setting.field
        ):
            written[setting.field] = value
    output = settings.output
    if output is not None:
        written["output"] = {
            "server": output.server_url,
            "database": output.database,
            **({"schema": output.schema} if output.schema is not None else {}),
            "table": output.table,
            "credential": output.credential,
        }
    return written


class _Dumper(yaml.SafeDumper):
    """YAML for people: scripts as literal blocks, as they were written."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)
