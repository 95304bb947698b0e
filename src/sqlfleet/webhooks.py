"""Webhooks: where a job's notifications go, and what they say.

A job may have a few webhooks. Each gets a JSON POST when an execution of the job ends (with
`on: failure`, only when it did not succeed) and when a staged rollout of one of its steps
halts. The URL is a secret: an incoming-webhook URL (Slack, Teams) carries its token in its
path. So it is stored encrypted and shown only as `scheme://host/…`, in every message too.
An optional notify secret signs each body: `X-Sqlfleet-Signature: sha256=<hex>` is the
HMAC-SHA256 of the raw body under it, and the body holds the `X-Sqlfleet-Timestamp` it was
sent at, so a receiver can refuse an old body played again.

This module is pure: checking, masking, wording and signing. Sending is in
`sqlfleet.engine.notifier`; storing in `sqlfleet.store.webhooks`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlfleet import limits
from sqlfleet.errors import InvalidValue
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.masking import mask_url
from sqlfleet.model import JobExecution, TargetExecution
from sqlfleet.secrets import Secret

ON_FAILURE = "failure"
ALWAYS = "always"
EXECUTION_ENDED = "execution.ended"
ROLLOUT_HALTED = "rollout.halted"
SIGNATURE_HEADER = "X-Sqlfleet-Signature"
TIMESTAMP_HEADER = "X-Sqlfleet-Timestamp"
EVENT_HEADER = "X-Sqlfleet-Event"
# How many failed targets a notification names, and how much of each one's message.
FIRST_FAILED = 10
MESSAGE_CHARS = 500
SUCCESS = frozenset({Lifecycle.SUCCEEDED, Lifecycle.SUCCEEDED_WITH_SKIPPED})
FAILING = (Lifecycle.FAILED, Lifecycle.TIMED_OUT)

_SCHEME_AND_AUTHORITY = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#\\]*)")
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """A webhook as given: its URL and notify secret stay `Secret`s until encrypted."""

    url: Secret
    on: str = ON_FAILURE
    secret: Secret | None = None


def mask_webhook_url(url: str) -> str:
    """`url` as it may be shown: `https://hooks.slack.com/…`, never its path, query or user.

    Works on any text: what cannot be read as `scheme://host` is shown as `…` alone.
    """
    match = _SCHEME_AND_AUTHORITY.match(url)
    if match is None:
        return "…"
    scheme, authority = match.groups()
    host = _UNPRINTABLE.sub("", authority.rpartition("@")[2])[:255]
    return f"{scheme.lower()}://{host}/…"


def check_webhook_url(url: object) -> str:
    """`url` if it is an http(s) URL a notification can be posted to; else InvalidValue.

    Messages quote the URL masked only: it is a secret even when it is malformed.
    """
    text = limits.WEBHOOK_URL.check(url)
    shown = mask_webhook_url(text)
    if any(c.isspace() for c in text):
        raise InvalidValue(f"the webhook URL {shown} contains spaces")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidValue(
            f"the webhook URL {shown} is malformed: its port must be a number from 1 to "
            "65535, and an IPv6 address goes in brackets ([::1])"
        ) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidValue(f"the webhook URL {shown} must start with http:// or https://")
    if not parts.hostname:
        raise InvalidValue(f"the webhook URL {shown} names no host")
    if port == 0:
        raise InvalidValue(f"the webhook URL {shown} has port 0")
    if text == shown:
        # What `job show` and the API print: sent back by a read-edit-write client, it would
        # replace the real URL with one that posts nowhere.
        raise InvalidValue(
            f"the webhook URL {shown} is the masked form sqlfleet shows: give the whole URL"
        )
    return text


def check_notify_on(on: object) -> str:
    """`failure` or `always`; else InvalidValue."""
    if on not in limits.NOTIFY_ON_CHOICES:
        raise InvalidValue(
            f"notify-on must be {' or '.join(limits.NOTIFY_ON_CHOICES)}, not {limits.shown(on)}"
        )
    return str(on)


def check_webhooks(specs: Sequence[WebhookSpec]) -> list[WebhookSpec]:
    """A job's webhooks, each checked; at most `limits.MAX_WEBHOOKS`, no URL twice."""
    if len(specs) > limits.MAX_WEBHOOKS:
        raise InvalidValue(f"a job has at most {limits.MAX_WEBHOOKS} webhooks, not {len(specs)}")
    seen: set[str] = set()
    for spec in specs:
        if not isinstance(spec, WebhookSpec):
            raise InvalidValue(f"a webhook must be a WebhookSpec, not {limits.shown(spec)}")
        url = check_webhook_url(spec.url.reveal())
        check_notify_on(spec.on)
        if spec.secret is not None:
            limits.NOTIFY_SECRET.check(spec.secret.reveal())
        if url in seen:
            raise InvalidValue(f"the webhook URL {mask_webhook_url(url)} is given twice")
        seen.add(url)
    return list(specs)


def wanted(on: str, state: Lifecycle) -> bool:
    """Whether a webhook with `on` is told that an execution ended in `state`."""
    return on == ALWAYS or state not in SUCCESS


def sign(secret: Secret, body: bytes) -> str:
    """The signature header's value: `sha256=` and the HMAC-SHA256 of `body`, in hex."""
    digest = hmac.new(secret.reveal().encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def execution_link(web_url: str | None, execution_id: int) -> str:
    """The execution page's address: absolute when the web UI's address is known."""
    path = f"/executions/{execution_id}"
    return f"{web_url.rstrip('/')}{path}" if web_url else path


def check_web_url(url: str) -> str:
    """The web UI's base address, for links in notifications: http(s), no secrets."""
    text = limits.WEBHOOK_URL.check(url, label="web URL")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidValue("the web URL must be http(s)://host[:port][/path]")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidValue("the web URL must hold no user, password, query or fragment")
    return text.rstrip("/")


@dataclass(frozen=True, slots=True)
class Notification:
    """What one event says, before it is sent to each webhook."""

    event: str
    execution: JobExecution
    failed: Sequence[TargetExecution]
    link: str
    step_name: str | None = None
    message: str | None = None

    def body(self, sent_at: datetime) -> dict[str, Any]:
        """The JSON document posted: no secret, server URLs masked."""
        execution = self.execution
        failed_total = sum(execution.target_counts.get(s.value, 0) for s in FAILING)
        return {
            "event": self.event,
            "job_name": execution.job_name,
            "job_version": execution.job_version,
            "job_execution_id": execution.id,
            "state": execution.lifecycle.value,
            "trial": execution.trial,
            "step_name": self.step_name,
            "message": self.message,
            "counts": dict(sorted(execution.target_counts.items())),
            "failed_targets_total": failed_total,
            "failed_targets": [_failed(t) for t in self.failed[:FIRST_FAILED]],
            "create_time": _iso(execution.create_time),
            "start_time": _iso(execution.start_time),
            "end_time": _iso(execution.end_time),
            "url": self.link,
            "sent_at": _iso(sent_at),
            "text": self.text(),
        }

    def text(self) -> str:
        """One short message that reads well in Slack- and Teams-style incoming webhooks."""
        execution = self.execution
        job = f"job {execution.job_name!r} execution {execution.id}"
        if self.event == ROLLOUT_HALTED:
            head = f"sqlfleet: {job}: the rollout of step {self.step_name!r} halted"
        else:
            trial = " (trial)" if execution.trial else ""
            head = f"sqlfleet: {job}{trial} ended {execution.lifecycle.value}"
        counts = ", ".join(f"{n} {s}" for s, n in sorted(execution.target_counts.items()))
        lines = [f"{head}: {counts or 'no targets'}"]
        if self.message and self.event == ROLLOUT_HALTED:
            lines.append(self.message)
        for target in self.failed[:FIRST_FAILED]:
            where = _where(target)
            message = (target.last_message or "").replace("\n", " ")[:200]
            lines.append(f"- {where}: {target.lifecycle.value}: {message}")
        failed_total = sum(execution.target_counts.get(s.value, 0) for s in FAILING)
        if failed_total > len(self.failed[:FIRST_FAILED]):
            lines.append(f"... and {failed_total - len(self.failed[:FIRST_FAILED])} more")
        lines.append(self.link)
        # Slack reads <...> as links and mentions (<!channel>): a database's message must
        # not ping a whole channel. Teams shows the escapes as the characters they stand for.
        text = "\n".join(lines)
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _where(target: TargetExecution) -> str:
    where = f"{mask_url(target.target_server_name)}/{target.target_database_name}"
    if target.target_schema_name:
        where += f" (schema {target.target_schema_name})"
    return where


def _failed(target: TargetExecution) -> dict[str, Any]:
    return {
        "step_id": target.step_id,
        "server_name": mask_url(target.target_server_name),
        "database_name": target.target_database_name,
        "schema_name": target.target_schema_name,
        "state": target.lifecycle.value,
        "attempts": target.current_attempts,
        "message": (target.last_message or "")[:MESSAGE_CHARS],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
