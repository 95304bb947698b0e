"""The job database's webhook verbs: a job version's webhooks, and the notifications outbox.

A notification is written in the same transaction that ends an execution (or halts a
rollout), so it is recorded exactly once, whoever ended it. Notifiers then claim due ones
under a lease, as targets are claimed, send them, and record each attempt; a notifier that
goes away leaves its claims to run out, and another one carries on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, literal, or_, select, update

from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import NotificationDelivery, Webhook
from sqlfleet.store import tables as t
from sqlfleet.webhooks import EXECUTION_ENDED, wanted

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATES = (PENDING, DELIVERED, FAILED)


@dataclass(frozen=True, slots=True)
class WebhookTokens:
    """A webhook as stored: its URL masked, and its URL and secret as encrypted tokens."""

    url_shown: str
    url_token: str
    on: str
    secret_token: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryClaim:
    """A notification a notifier claimed to send: encrypted tokens, never plain secrets."""

    id: int
    job_execution_id: int
    step_execution_id: int | None
    event: str
    message: str | None
    webhook: str
    url_token: str
    secret_token: str | None
    attempts: int


def save_webhooks(
    conn: Connection, job_id: int, version: int, webhooks: Sequence[WebhookTokens]
) -> None:
    """Store a job version's webhooks, in order."""
    if not webhooks:
        return
    conn.execute(
        insert(t.job_webhook),
        [
            {
                "job_id": job_id,
                "job_version": version,
                "position": position,
                "url_shown": w.url_shown,
                "url_token": w.url_token,
                "notify_on": w.on,
                "secret_token": w.secret_token,
            }
            for position, w in enumerate(webhooks, start=1)
        ],
    )


def copy_webhooks(conn: Connection, job_id: int, version: int, new_version: int) -> None:
    """Give a new job version the webhooks of the version before it."""
    w = t.job_webhook
    columns = ["job_id", "job_version", "position", "url_shown", "url_token", "notify_on"]
    conn.execute(
        insert(w).from_select(
            [*columns, "secret_token"],
            select(
                w.c.job_id,
                literal(new_version),
                w.c.position,
                w.c.url_shown,
                w.c.url_token,
                w.c.notify_on,
                w.c.secret_token,
            ).where(w.c.job_id == job_id, w.c.job_version == version),
        )
    )


def webhook_rows(conn: Connection, job_id: int, version: int) -> list[Any]:
    """A job version's webhook rows, in order."""
    w = t.job_webhook
    return list(
        conn.execute(
            select(w).where(w.c.job_id == job_id, w.c.job_version == version).order_by(w.c.position)
        )
    )


def read_webhooks(conn: Connection, job_id: int, version: int) -> tuple[Webhook, ...]:
    """A job version's webhooks as they may be shown."""
    return tuple(
        Webhook(url=r.url_shown, on=r.notify_on, signed=r.secret_token is not None)
        for r in webhook_rows(conn, job_id, version)
    )


def enqueue(
    conn: Connection,
    job_execution_id: int,
    event: str,
    *,
    state: Lifecycle | None,
    now: datetime,
    step_execution_id: int | None = None,
    message: str | None = None,
) -> int:
    """Write the notifications of an event to the webhooks that want it; how many.

    `state` is how the execution ended (for `execution.ended`); a halted rollout is a
    failure, so every webhook is told of it.
    """
    je, w = t.job_execution, t.job_webhook
    rows = conn.execute(
        select(w.c.url_shown, w.c.url_token, w.c.notify_on, w.c.secret_token)
        .join(je, and_(je.c.job_id == w.c.job_id, je.c.job_version == w.c.job_version))
        .where(je.c.id == job_execution_id)
        .order_by(w.c.position)
    ).all()
    chosen = [
        r for r in rows if event != EXECUTION_ENDED or state is None or wanted(r.notify_on, state)
    ]
    if chosen:
        conn.execute(
            insert(t.notification_delivery),
            [
                {
                    "job_execution_id": job_execution_id,
                    "step_execution_id": step_execution_id,
                    "event": event,
                    "message": message,
                    "webhook": r.url_shown,
                    "url_token": r.url_token,
                    "secret_token": r.secret_token,
                    "state": PENDING,
                    "attempts": 0,
                    "create_time": now,
                    "update_time": now,
                }
                for r in chosen
            ],
        )
    return len(chosen)


class NotificationStore:
    """Verbs of the notifications outbox, and the tokens of a job's webhooks."""

    engine: Engine

    def webhook_tokens(self, job_id: int, version: int) -> list[WebhookTokens]:
        """A job version's webhooks with their encrypted tokens (to compare, never to show)."""
        with self.engine.connect() as conn:
            return [
                WebhookTokens(r.url_shown, r.url_token, r.notify_on, r.secret_token)
                for r in webhook_rows(conn, job_id, version)
            ]

    def claim_deliveries(
        self,
        holder: str,
        *,
        now: datetime,
        lease: timedelta,
        limit: int = 20,
        job_execution_id: int | None = None,
    ) -> list[DeliveryClaim]:
        """Claim pending notifications nobody holds (or whose holder's lease ran out), of
        one execution or of any. What this holder holds already comes again: a claim cut
        short (by a shutdown) must not leave them waiting for its own lease to run out."""
        nd = t.notification_delivery
        free = or_(nd.c.holder.is_(None), nd.c.holder == holder, nd.c.lease_expires_at < now)
        which = [nd.c.state == PENDING, free]
        if job_execution_id is not None:
            which.append(nd.c.job_execution_id == job_execution_id)
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(nd)
                .where(*which)
                .order_by(nd.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            claimed = []
            for r in rows:
                moved = conn.execute(
                    update(nd)
                    .where(nd.c.id == r.id, nd.c.state == PENDING, free)
                    .values(holder=holder, lease_expires_at=now + lease)
                ).rowcount
                if moved and r.url_token is not None:
                    claimed.append(
                        DeliveryClaim(
                            id=r.id,
                            job_execution_id=r.job_execution_id,
                            step_execution_id=r.step_execution_id,
                            event=r.event,
                            message=r.message,
                            webhook=r.webhook,
                            url_token=r.url_token,
                            secret_token=r.secret_token,
                            attempts=r.attempts,
                        )
                    )
            return claimed

    def record_delivery(
        self,
        delivery_id: int,
        holder: str,
        *,
        state: str,
        attempts: int,
        status: int | None,
        reason: str | None,
        now: datetime,
    ) -> bool:
        """Record an attempt of a notification this holder has; False if it lost the claim.

        A notification delivered or failed for good is released and its tokens cleared.
        """
        nd = t.notification_delivery
        values: dict[str, Any] = {
            "state": state,
            "attempts": attempts,
            "last_status": status,
            "last_reason": reason,
            "update_time": now,
        }
        if state != PENDING:
            values.update(holder=None, lease_expires_at=None, url_token=None, secret_token=None)
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(nd)
                    .where(nd.c.id == delivery_id, nd.c.holder == holder, nd.c.state == PENDING)
                    .values(values)
                ).rowcount
            )

    def release_deliveries(self, holder: str) -> int:
        """Give up the pending notifications this holder has: another notifier sends them."""
        nd = t.notification_delivery
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(nd)
                    .where(nd.c.holder == holder, nd.c.state == PENDING)
                    .values(holder=None, lease_expires_at=None)
                ).rowcount
            )

    def list_deliveries(self, job_execution_id: int) -> list[NotificationDelivery]:
        """The notifications of an execution, oldest first."""
        nd, se = t.notification_delivery, t.step_execution
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(nd, se.c.step_name)
                .outerjoin(se, se.c.id == nd.c.step_execution_id)
                .where(nd.c.job_execution_id == job_execution_id)
                .order_by(nd.c.id)
            )
            return [
                NotificationDelivery(
                    id=r.id,
                    job_execution_id=r.job_execution_id,
                    event=r.event,
                    webhook=r.webhook,
                    state=r.state,
                    attempts=r.attempts,
                    last_status=r.last_status,
                    last_reason=r.last_reason,
                    create_time=r.create_time,
                    update_time=r.update_time,
                    step_name=r.step_name,
                )
                for r in rows
            ]
