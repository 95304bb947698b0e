"""Models as JSON documents: the one shape shared by `--json` output and the REST API.

Field names follow Elastic Jobs' views (`job_name`, `step_id`, `target_group_name`, ...), so
what users see in JSON is what they query in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlfleet.model import (
    Attempt,
    Credential,
    Job,
    JobExecution,
    JobVersion,
    KeptResult,
    Member,
    NotificationDelivery,
    ResultPage,
    Step,
    StepExecution,
    StepPreview,
    Target,
    TargetExecution,
    TargetGroup,
    Webhook,
)
from sqlfleet.schedule import Schedule
from sqlfleet.variables import shown_map


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
        "variables": shown_map(m.variables),
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
        "canary": settings.canary,
        "wave_size": settings.wave_size,
        "wave_pause_seconds": settings.wave_pause_seconds,
        "max_failures": settings.max_failures,
        "retry_on": settings.retry_on,
        "result_rows": settings.result_rows,
        "allow_database_switch": settings.allow_database_switch,
        "fresh_connection": settings.fresh_connection,
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
        "notify": [webhook(w) for w in j.webhooks],
    }


def webhook(w: Webhook) -> dict[str, Any]:
    """A job's webhook: its URL masked (it holds a token), never its notify secret."""
    return {"url": w.url, "on": w.on, "signed": w.signed}


def delivery(d: NotificationDelivery) -> dict[str, Any]:
    """One notification to one webhook, and how it went."""
    return {
        "notification_id": d.id,
        "job_execution_id": d.job_execution_id,
        "event": d.event,
        "step_name": d.step_name,
        "webhook": d.webhook,
        "state": d.state,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_reason": d.last_reason,
        "create_time": iso(d.create_time),
        "update_time": iso(d.update_time),
    }


def job_version(v: JobVersion) -> dict[str, Any]:
    """One version of a job."""
    return {"job_id": v.job_id, "job_version": v.version, "created_at": iso(v.created_at)}


def job_execution(e: JobExecution) -> dict[str, Any]:
    """A job execution, with the job_executions view's field names and target counts."""
    return {
        "job_execution_id": e.id,
        "job_name": e.job_name,
        "job_id": e.job_id,
        "job_version": e.job_version,
        "is_active": e.is_active,
        "lifecycle": e.lifecycle.value,
        "trigger": e.trigger,
        "create_time": iso(e.create_time),
        "start_time": iso(e.start_time),
        "end_time": iso(e.end_time),
        "last_message": e.last_message,
        "target_counts": dict(sorted(e.target_counts.items())),
        "trial": e.trial,
        "rerun_of": e.rerun_of,
    }


def step_execution(s: StepExecution) -> dict[str, Any]:
    """A step execution."""
    return {
        "job_execution_id": s.job_execution_id,
        "step_id": s.step_id,
        "step_name": s.step_name,
        "target_group_name": s.target_group_name,
        "is_active": not s.lifecycle.is_terminal,
        "lifecycle": s.lifecycle.value,
        "create_time": iso(s.create_time),
        "start_time": iso(s.start_time),
        "end_time": iso(s.end_time),
        "last_message": s.last_message,
        "target_counts": dict(sorted(s.target_counts.items())),
    }


def target_execution(te: TargetExecution) -> dict[str, Any]:
    """A target execution."""
    return {
        "target_execution_id": te.id,
        "job_execution_id": te.job_execution_id,
        "step_id": te.step_id,
        "is_active": not te.lifecycle.is_terminal,
        "lifecycle": te.lifecycle.value,
        "create_time": iso(te.create_time),
        "start_time": iso(te.start_time),
        "end_time": iso(te.end_time),
        "current_attempts": te.current_attempts,
        "current_attempt_start_time": iso(te.current_attempt_start_time),
        "next_attempt_start_time": iso(te.next_attempt_start_time),
        "last_message": te.last_message,
        "target_type": te.target_type,
        "target_server_name": te.target_server_name,
        "target_database_name": te.target_database_name,
        "target_schema_name": te.target_schema_name,
        "target_variables": shown_map(te.target_variables),
        "agent_name": te.agent_name,
    }


def attempt(a: Attempt) -> dict[str, Any]:
    """One attempt of a target execution."""
    return {
        "attempt": a.attempt_number,
        "lifecycle": a.lifecycle.value,
        "agent_name": a.agent_name,
        "start_time": iso(a.start_time),
        "end_time": iso(a.end_time),
        "message": a.message,
        "row_count": a.row_count,
        "server_messages": a.server_messages,
        "error_batch": a.error_batch,
        "error_line": a.error_line,
        "error_column": a.error_column,
        "error_statement": a.error_statement,
    }


def target(t: Target) -> dict[str, Any]:
    """A resolved target."""
    return {
        "target_type": t.target_type,
        "target_server_name": t.server_url,
        "target_database_name": t.database,
        "target_schema_name": t.schema,
        "target_variables": shown_map(t.variables),
    }


def step_preview(p: StepPreview) -> dict[str, Any]:
    """A step of a dry run (or preflight): per target, the batches it would get."""
    return {
        "step_id": p.step.step_id,
        "step_name": p.step.name,
        "target_group_name": p.step.settings.target_group,
        "error": p.error,
        "targets": [
            {**target(t.target), "batches": t.batches, "error": t.error} for t in p.targets
        ],
    }


def kept_result(r: KeptResult) -> dict[str, Any]:
    """The rows one target kept of its first result set."""
    return {
        "columns": list(r.columns),
        "rows": [list(row) for row in r.rows],
        "returned_rows": r.returned_rows,
        "kept_rows": r.kept_rows,
        "truncated": r.truncated,
    }


def result_page(p: ResultPage) -> dict[str, Any]:
    """Kept result rows merged across targets: target columns first, then the results'."""
    return {
        "job_execution_id": p.job_execution_id,
        "step_name": p.step_name,
        "columns": list(p.columns),
        "rows": [list(row) for row in p.rows],
        "offset": p.offset,
        "total_rows": p.total_rows,
        "targets_with_results": p.targets,
        "truncated_targets": p.cut_targets,
        "truncated": [
            {
                "step_name": c.step_name,
                "target_server_name": c.target.server_url,
                "target_database_name": c.target.database,
                "target_schema_name": c.target.schema,
                "returned_rows": c.returned_rows,
                "kept_rows": c.kept_rows,
            }
            for c in p.cut
        ],
    }
