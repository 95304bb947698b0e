"""Webhook notifications on real PostgreSQL fleets, posted to a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from sqlfleet.engine.dispatcher import Dispatcher, DispatcherSettings
from sqlfleet.engine.notifier import NotifierSettings
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.metrics import FleetMetrics
from sqlfleet.secrets import Secret
from sqlfleet.webhooks import WebhookSpec
from tests.integration.engine.conftest import PG
from tests.polling import wait_for, wait_for_async
from tests.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.timeout(120)

FAST = NotifierSettings(request_timeout=2.0, pauses=(0.5, 1.0, 2.0), poll_interval=0.2)
NOTIFY_SECRET = "n0tify-s3cret-value"
CREDENTIAL_SECRET = "unused-under-trust-auth"  # the `pg` credential's password (conftest)
# Fails on the databases whose name ends in _0 or _1 (division by zero), succeeds elsewhere.
SOMETIMES_FAILS = "SELECT 1 / (CASE WHEN current_database() ~ '_[01]$' THEN 0 ELSE 1 END)"


def _job(fleet: Fleet, pg_fleet: Any, name: str, command: str, *webhooks: WebhookSpec) -> list[str]:
    databases = pg_fleet(4)
    prefix = databases[0].rsplit("_", 1)[0]
    fleet.add_target_group(name)
    fleet.add_member(name, server=PG, database_pattern=f"{prefix}_*")
    fleet.add_job(
        name,
        steps=[
            (
                "main",
                {
                    "command": command,
                    "target_group": name,
                    "credential": "pg",
                    "retry_attempts": 0,
                },
            )
        ],
        webhooks=list(webhooks),
    )
    return databases


async def _run(
    fleet: Fleet, job: str, *, notify_wait: float = 20.0, metrics: FleetMetrics | None = None
) -> int:
    execution = fleet.create_execution(job)
    dispatcher = Dispatcher(
        fleet.store,
        fleet.credential_login,
        agent_name="notify-test",
        settings=DispatcherSettings(
            concurrency=10,
            notify=FAST,
            notify_wait=notify_wait,
            web_url="https://sqlfleet.example.com/",
        ),
        job_execution_id=execution.id,
        decrypt=fleet.decrypt,
    )
    if metrics is not None:
        metrics.watch(dispatcher)
    await dispatcher.run_execution()
    return execution.id


async def test_a_failed_execution_posts_one_signed_notification(
    fleet: Fleet, pg_fleet: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as an agent logs: INFO and up, from every logger
    with webhook_receiver(200) as receiver:
        spec = WebhookSpec(Secret(receiver.url), "failure", Secret(NOTIFY_SECRET))
        databases = _job(fleet, pg_fleet, "nightly", SOMETIMES_FAILS, spec)

        execution_id = await _run(fleet, "nightly")

        posts = receiver.posts()
    assert len(posts) == 1
    post = posts[0]
    assert post.signed_by(NOTIFY_SECRET)
    assert not post.signed_by("another secret")
    assert post.headers["x-sqlfleet-event"] == "execution.ended"
    body = post.document
    assert body["sent_at"]  # what the timestamp header says, covered by the signature
    assert post.headers["x-sqlfleet-timestamp"].isdigit()
    assert body["event"] == "execution.ended"
    assert body["job_name"] == "nightly"
    assert body["job_execution_id"] == execution_id
    assert body["state"] == "Failed"
    assert body["counts"] == {"Failed": 2, "Succeeded": 2}
    assert body["failed_targets_total"] == 2
    failed = {f["database_name"]: f for f in body["failed_targets"]}
    assert set(failed) == set(databases[:2])
    assert all("division by zero" in f["message"] for f in failed.values())
    assert body["url"] == f"https://sqlfleet.example.com/executions/{execution_id}"
    assert "ended Failed: 2 Failed, 2 Succeeded" in body["text"]
    assert body["url"] in body["text"]
    raw = post.body.decode()
    for secret in (NOTIFY_SECRET, CREDENTIAL_SECRET, "s3cr3tT0k3n", "/hooks/"):
        assert secret not in raw
    assert "s3cr3tT0k3n" not in caplog.text and NOTIFY_SECRET not in caplog.text
    (delivery,) = fleet.list_deliveries(execution_id)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    assert delivery.webhook == "http://127.0.0.1:" + receiver.url.split(":")[2].split("/")[0] + "/…"
    assert delivery.event == "execution.ended"


async def test_a_500_is_retried_and_the_delivery_recorded_with_two_attempts(
    fleet: Fleet, pg_fleet: Any
) -> None:
    metrics = FleetMetrics(fleet.store)
    with webhook_receiver(500, 200) as receiver:
        _job(fleet, pg_fleet, "retried", SOMETIMES_FAILS, WebhookSpec(Secret(receiver.url)))

        execution_id = await _run(fleet, "retried", metrics=metrics)

        posts = receiver.posts()
    assert len(posts) == 2
    assert posts[0].body != b""
    assert "x-sqlfleet-signature" not in posts[0].headers  # no notify secret, no signature
    assert posts[1].at - posts[0].at >= FAST.pauses[0] * 0.9
    (delivery,) = fleet.list_deliveries(execution_id)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)
    exposition = metrics.exposition().decode()
    metrics.close()
    assert 'sqlfleet_notifications_total{outcome="delivered"} 1.0' in exposition
    assert 'outcome="failed"' not in exposition


async def test_a_receiver_that_is_down_never_delays_the_execution(
    fleet: Fleet, pg_fleet: Any, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}/hooks/s3cr3tT0k3n"
    _job(fleet, pg_fleet, "down", SOMETIMES_FAILS, WebhookSpec(Secret(url), "always"))
    execution = fleet.create_execution("down")
    dispatcher = Dispatcher(
        fleet.store,
        fleet.credential_login,
        agent_name="notify-test",
        settings=DispatcherSettings(concurrency=10, notify=FAST, notify_wait=20.0),
        job_execution_id=execution.id,
        decrypt=fleet.decrypt,
    )
    running = asyncio.create_task(dispatcher.run_execution())

    ended = await wait_for_async(
        lambda: fleet.get_execution(execution.id).lifecycle.is_terminal or None,
        within=60,
        what="the execution to end",
    )
    assert ended
    # The execution has ended while its notification is still being tried.
    (pending,) = fleet.list_deliveries(execution.id)
    assert pending.state == "pending"
    assert pending.attempts < FAST.attempts
    await running

    final = fleet.get_execution(execution.id)
    (delivery,) = fleet.list_deliveries(execution.id)
    assert delivery.state == "failed"
    assert delivery.attempts == FAST.attempts
    assert delivery.last_status is None
    assert delivery.last_reason is not None and "ConnectError" in delivery.last_reason
    assert "s3cr3tT0k3n" not in delivery.last_reason
    assert final.end_time is not None
    assert delivery.create_time == final.end_time
    spent = (delivery.update_time - final.end_time).total_seconds()
    assert spent >= sum(FAST.pauses) * 0.9


async def test_notify_on_failure_does_not_post_for_a_succeeded_execution(
    fleet: Fleet, pg_fleet: Any
) -> None:
    with webhook_receiver(200) as on_failure, webhook_receiver(200) as always:
        _job(
            fleet,
            pg_fleet,
            "fine",
            "SELECT 1",
            WebhookSpec(Secret(on_failure.url), "failure"),
            WebhookSpec(Secret(always.url.replace("s3cr3t", "other")), "always"),
        )
        execution_id = await _run(fleet, "fine")
        assert fleet.get_execution(execution_id).lifecycle is Lifecycle.SUCCEEDED
        wait_for(lambda: always.posts(), what="the always webhook's notification")
        assert on_failure.posts() == []
    (delivery,) = fleet.list_deliveries(execution_id)
    assert delivery.state == "delivered"
    assert always.posts()[0].document["state"] == "Succeeded"


async def test_a_halted_rollout_posts_its_own_notification(fleet: Fleet, pg_fleet: Any) -> None:
    with webhook_receiver(200) as receiver:
        _job(fleet, pg_fleet, "staged", SOMETIMES_FAILS, WebhookSpec(Secret(receiver.url)))
        fleet.update_step("staged", "main", canary=2, wave_size="1")

        execution_id = await _run(fleet, "staged")

        events = {json.loads(p.body)["event"]: json.loads(p.body) for p in receiver.posts()}
    assert sorted(events) == ["execution.ended", "rollout.halted"]
    halted = events["rollout.halted"]
    assert halted["step_name"] == "main"
    assert halted["message"].startswith("not started: ")
    assert "the rollout of step 'main' halted" in halted["text"]
    assert events["execution.ended"]["state"] == "Failed"
    deliveries = fleet.list_deliveries(execution_id)
    # Recorded in the order they happened: the halt, then the end.
    assert [(d.event, d.state) for d in deliveries] == [
        ("rollout.halted", "delivered"),
        ("execution.ended", "delivered"),
    ]
    assert deliveries[0].step_name == "main"


async def test_purging_an_execution_removes_its_deliveries(fleet: Fleet, pg_fleet: Any) -> None:
    with webhook_receiver(200) as receiver:
        _job(fleet, pg_fleet, "purged", SOMETIMES_FAILS, WebhookSpec(Secret(receiver.url)))
        execution_id = await _run(fleet, "purged")
    assert fleet.list_deliveries(execution_id)
    ended = fleet.get_execution(execution_id).end_time
    assert ended is not None
    fleet.clock = lambda: ended + timedelta(days=1)
    assert fleet.purge(older_than_days=0.5) == 1
    assert fleet.store.list_deliveries(execution_id) == []


async def test_a_notification_nobody_sent_is_sent_by_the_next_agent(
    fleet: Fleet, pg_fleet: Any
) -> None:
    with webhook_receiver(200) as receiver:
        _job(fleet, pg_fleet, "stopped", "SELECT 1", WebhookSpec(Secret(receiver.url), "always"))
        execution = fleet.create_execution("stopped")
        fleet.stop(execution.id)  # ends it Canceled here, in a process that sends nothing
        (pending,) = fleet.list_deliveries(execution.id)
        assert (pending.event, pending.state, pending.attempts) == ("execution.ended", "pending", 0)
        # A notifier claimed it, then went away: its lease ran out an hour ago.
        long_ago = fleet.get_execution(execution.id).end_time - timedelta(hours=1)
        assert fleet.store.claim_deliveries("gone", now=long_ago, lease=timedelta(seconds=60))

        dispatcher = Dispatcher(
            fleet.store,
            fleet.credential_login,
            agent_name="next-agent",
            settings=DispatcherSettings(notify=FAST),
            decrypt=fleet.decrypt,
        )
        stop = asyncio.Event()
        serving = asyncio.create_task(dispatcher.serve(stop))
        try:
            await wait_for_async(receiver.posts, within=30, what="the notification")
        finally:
            stop.set()
            await serving
        (post,) = receiver.posts()
    assert post.document["state"] == "Canceled"
    (delivery,) = fleet.list_deliveries(execution.id)
    assert (delivery.state, delivery.attempts) == ("delivered", 1)
    fleet.remove_job("stopped")  # its history goes, notifications included
    assert fleet.store.list_deliveries(execution.id) == []
