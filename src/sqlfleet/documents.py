"""Models as JSON documents: the one shape shared by `--json` output and the REST API.

Field names follow Elastic Jobs' views (`job_name`, `step_id`, `target_group_name`, ...), so
what users see in JSON is what they query in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlfleet.model import Credential, Job, JobVersion, Member, Step, TargetGroup
from sqlfleet.schedule import Schedule


def iso(value: datetime | None) -> str | None:
    """A datetime as ISO-8601 text, or None."""
    return value.isoformat() if value is not None else None


def credential(c: Credential) -> dict[str, Any]:
    """A credential: its name and user name, never its secret."""
    return {
        "credential_name": c.name,
        "username": c.username,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def member(m: Member) -> dict[str, Any]:
    """A target group member."""
    return {
        "target_id": m.id,
        "membership_type": m.membership.value,
        "target_type": m.kind.value,
        "server_name": m.server_url,
        "database_name": m.database,
        "database_pattern": m.database_pattern,
        "schema_pattern": m.schema_pattern,
        "shard_map_query": m.shard_map_query,
        "refresh_credential_name": m.refresh_credential,
    }


def target_group(g: TargetGroup) -> dict[str, Any]:
    """A target group with its members."""
    return {
        "target_group_name": g.name,
        "target_group_id": g.id,
        "members": [member(m) for m in g.members],
    }


def schedule(s: Schedule | None) -> dict[str, Any] | None:
    """A schedule, or None for a job started only by hand."""
    if s is None:
        return None
    return {
        "description": s.describe(),
        "schedule_interval_type": s.kind,
        "schedule_interval_count": s.interval_count,
        "schedule_interval_unit": s.interval_unit,
        "schedule_cron": s.cron,
        "schedule_timezone": s.timezone,
        "schedule_start_time": iso(s.start_time),
        "schedule_end_time": iso(s.end_time),
    }


def step(s: Step) -> dict[str, Any]:
    """A step with every setting, defaults included."""
    settings = s.settings
    retry = settings.retry
    output = settings.output
    return {
        "step_id": s.step_id,
        "step_name": s.name,
        "command": settings.command,
        "target_group_name": settings.target_group,
        "credential_name": settings.credential,
        "retry_attempts": retry.retry_attempts,
        "initial_retry_interval_seconds": retry.initial_retry_interval_seconds,
        "maximum_retry_interval_seconds": retry.maximum_retry_interval_seconds,
        "retry_interval_backoff_multiplier": retry.retry_interval_backoff_multiplier,
        "step_timeout_seconds": settings.step_timeout_seconds,
        "connect_timeout_seconds": settings.connect_timeout_seconds,
        "max_parallelism": settings.max_parallelism,
        "continue_on_failure": settings.continue_on_failure,
        "output": None
        if output is None
        else {
            "output_server_name": output.server_url,
            "output_database_name": output.database,
            "output_schema_name": output.schema,
            "output_table_name": output.table,
            "output_credential_name": output.credential,
        },
    }


def job(j: Job) -> dict[str, Any]:
    """A job at one version, with its steps."""
    return {
        "job_name": j.name,
        "job_id": j.id,
        "job_version": j.version,
        "description": j.description,
        "enabled": j.enabled,
        "schedule": schedule(j.schedule),
        "created_at": iso(j.created_at),
        "updated_at": iso(j.updated_at),
        "steps": [step(s) for s in j.steps],
    }


def job_version(v: JobVersion) -> dict[str, Any]:
    """One version of a job."""
    return {"job_id": v.job_id, "job_version": v.version, "created_at": iso(v.created_at)}
