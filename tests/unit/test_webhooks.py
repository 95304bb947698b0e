"""Webhooks, pure: URLs checked and masked, bodies worded and signed, never a secret."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet import limits
from sqlfleet.errors import InvalidValue
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import JobExecution, TargetExecution
from sqlfleet.secrets import Secret
from sqlfleet.webhooks import (
    ROLLOUT_HALTED,
    Notification,
    WebhookSpec,
    check_web_url,
    check_webhook_url,
    check_webhooks,
    execution_link,
    mask_webhook_url,
    sign,
    wanted,
)

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
TOKEN = "XyZ-token-in-the-path"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://hooks.slack.com/services/T0/B0/{TOKEN}", "https://hooks.slack.com/…"),
        (f"HTTP://user:{TOKEN}@example.com:8443/x?y={TOKEN}", "http://example.com:8443/…"),
        (f"https://example.com?{TOKEN}", "https://example.com/…"),
        (f"https://[::1]:9/{TOKEN}", "https://[::1]:9/…"),
        (f"no scheme {TOKEN}", "…"),
        (f"https://h\n/{TOKEN}", "https://h/…"),
    ],
)
def test_a_url_is_shown_as_scheme_and_host(url: str, shown: str) -> None:
    assert mask_webhook_url(url) == shown


@given(st.text(max_size=80))
def test_masking_never_shows_the_path(text: str) -> None:
    url = "https://h.example/" + TOKEN + text
    assert TOKEN not in mask_webhook_url(url)
    assert TOKEN not in mask_webhook_url(text + TOKEN)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"ftp://h/{TOKEN}", "must start with http:// or https://"),
        (f"//h/{TOKEN}", "must start with http:// or https://"),
        (f"https:///{TOKEN}", "names no host"),
        (f"https://h:99999/{TOKEN}", "port must be a number"),
        (f"https://h:0/{TOKEN}", "port 0"),
        (f"https://h/{TOKEN} x", "contains spaces"),
        (f"https://h/{TOKEN}\x00", "NUL"),
        (f"https://h/{TOKEN}\x07", "control characters"),
        ("https://h/" + "x" * limits.MAX_URL, "longer than"),
        ("", "is empty"),
        ("https://hooks.example.com/…", "the masked form sqlfleet shows"),
    ],
)
def test_a_bad_url_is_refused_without_quoting_it(url: str, says: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        check_webhook_url(url)
    assert says in refused.value.message
    assert TOKEN not in refused.value.message


def test_webhooks_are_checked_together() -> None:
    good = WebhookSpec(Secret("https://h/1"), "always", Secret("k"))
    assert check_webhooks([good]) == [good]
    with pytest.raises(InvalidValue, match="at most 10 webhooks"):
        check_webhooks([WebhookSpec(Secret(f"https://h/{i}")) for i in range(11)])
    with pytest.raises(InvalidValue, match="given twice"):
        check_webhooks([good, good])
    with pytest.raises(InvalidValue, match="notify-on must be failure or always"):
        check_webhooks([WebhookSpec(Secret("https://h/1"), "sometimes")])
    with pytest.raises(InvalidValue, match="notify secret is empty"):
        check_webhooks([WebhookSpec(Secret("https://h/1"), secret=Secret(""))])


def test_who_is_told_of_what() -> None:
    assert not wanted("failure", Lifecycle.SUCCEEDED)
    assert not wanted("failure", Lifecycle.SUCCEEDED_WITH_SKIPPED)
    for state in (Lifecycle.FAILED, Lifecycle.TIMED_OUT, Lifecycle.CANCELED):
        assert wanted("failure", state)
    assert all(wanted("always", s) for s in Lifecycle if s.is_terminal)


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert sign(Secret("k3y"), body) == f"sha256={expected}"


def test_links_and_the_web_url() -> None:
    assert (
        execution_link("https://x.example/sqlfleet/", 7)
        == "https://x.example/sqlfleet/executions/7"
    )
    assert execution_link(None, 7) == "/executions/7"
    assert check_web_url("http://h:8080/") == "http://h:8080"
    for bad in ("ftp://h", "http://u:pw@h", "https://h/?q=1", "h:8080", ""):
        with pytest.raises(InvalidValue):
            check_web_url(bad)


def _execution(counts: dict[str, int], state: Lifecycle = Lifecycle.FAILED) -> JobExecution:
    return JobExecution(
        id=42,
        job_id=1,
        job_name="nightly",
        job_version=3,
        lifecycle=state,
        trigger="schedule",
        create_time=NOW,
        start_time=NOW,
        end_time=NOW,
        last_message="1 step(s) ended",
        target_counts=counts,
    )


def _failed(n: int) -> TargetExecution:
    return TargetExecution(
        id=n,
        job_execution_id=42,
        step_execution_id=1,
        step_id=1,
        target_type="database",
        target_server_name="postgresql://admin:pw@db1:5432",
        target_database_name=f"tenant_{n}",
        target_schema_name=None,
        lifecycle=Lifecycle.FAILED,
        create_time=NOW,
        start_time=NOW,
        end_time=NOW,
        current_attempts=1,
        current_attempt_start_time=NOW,
        next_attempt_start_time=None,
        last_message=f"relation <!channel> t{n} & co does not exist\nline 2",
        agent_name=None,
    )


def test_the_body_names_counts_and_the_first_failures_without_a_secret() -> None:
    notification = Notification(
        event="execution.ended",
        execution=_execution({"Failed": 12, "Succeeded": 88}),
        failed=[_failed(n) for n in range(12)],
        link="https://x.example/executions/42",
    )
    body = notification.body(NOW)
    assert body["counts"] == {"Failed": 12, "Succeeded": 88}
    assert body["failed_targets_total"] == 12
    assert len(body["failed_targets"]) == 10
    assert body["failed_targets"][0]["server_name"] == "postgresql://admin:***@db1:5432"
    assert body["state"] == "Failed" and body["job_execution_id"] == 42
    assert body["sent_at"] == NOW.isoformat()
    text = body["text"]
    assert text.startswith(
        "sqlfleet: job 'nightly' execution 42 ended Failed: 12 Failed, 88 Succeeded"
    )
    assert "... and 2 more" in text and "https://x.example/executions/42" in text
    # Slack would read <!channel> as a mention: escaped.
    assert "<!channel>" not in text and "&lt;!channel&gt; t0 &amp; co" in text
    assert ":pw@" not in json.dumps(body)


def test_a_halt_says_which_step_and_why() -> None:
    notification = Notification(
        event=ROLLOUT_HALTED,
        execution=_execution({"Canceled": 8, "Failed": 2}, Lifecycle.IN_PROGRESS),
        failed=[_failed(1), _failed(2)],
        link="/executions/42",
        step_name="migrate",
        message="not started: 2 of the 2 canary target(s) failed (canary)",
    )
    text = notification.text()
    assert "the rollout of step 'migrate' halted" in text
    assert "not started: 2 of the 2 canary" in text
    assert notification.body(NOW)["step_name"] == "migrate"
