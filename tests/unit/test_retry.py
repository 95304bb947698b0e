"""RetryPolicy: Elastic Jobs defaults, validation, and the backoff between attempts."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet.errors import InvalidValue
from sqlfleet.retry import RetryPolicy


def test_defaults_are_those_of_elastic_jobs() -> None:
    policy = RetryPolicy()
    assert policy.retry_attempts == 10
    assert policy.initial_retry_interval_seconds == 1.0
    assert policy.maximum_retry_interval_seconds == 120.0
    assert policy.retry_interval_backoff_multiplier == 2.0
    assert policy.max_attempts == 11


def test_default_delays_double_up_to_the_maximum() -> None:
    policy = RetryPolicy()
    delays = [policy.delay_after_attempt(attempt) for attempt in range(1, 11)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        (
            RetryPolicy(initial_retry_interval_seconds=5, retry_interval_backoff_multiplier=3),
            [5, 15, 45, 120, 120],
        ),
        (RetryPolicy(retry_interval_backoff_multiplier=1.0), [1, 1, 1, 1, 1]),
        (RetryPolicy(initial_retry_interval_seconds=0), [0, 0, 0, 0, 0]),
        (
            RetryPolicy(initial_retry_interval_seconds=0, maximum_retry_interval_seconds=0),
            [0, 0, 0, 0, 0],
        ),
        (
            RetryPolicy(initial_retry_interval_seconds=7, maximum_retry_interval_seconds=7),
            [7, 7, 7, 7, 7],
        ),
        (
            RetryPolicy(initial_retry_interval_seconds=0.5, retry_interval_backoff_multiplier=1.5),
            [0.5, 0.75, 1.125, 1.6875, 2.53125],
        ),
        (RetryPolicy(maximum_retry_interval_seconds=10), [1, 2, 4, 8, 10]),
    ],
)
def test_delays(policy: RetryPolicy, delays: list[float]) -> None:
    assert [policy.delay_after_attempt(n) for n in range(1, len(delays) + 1)] == pytest.approx(
        delays
    )


@pytest.mark.parametrize("attempt", [60, 1_000, 1_025, 10**6, 10**18, 10**100])
def test_huge_attempt_numbers_give_the_maximum(attempt: int) -> None:
    assert RetryPolicy().delay_after_attempt(attempt) == 120.0


def test_huge_ratio_of_maximum_to_initial_does_not_overflow() -> None:
    policy = RetryPolicy(
        initial_retry_interval_seconds=1e-300,
        maximum_retry_interval_seconds=1e300,
        retry_interval_backoff_multiplier=10.0,
    )
    assert policy.delay_after_attempt(10**9) == 1e300
    assert policy.delay_after_attempt(2) == pytest.approx(1e-299)


def test_multiplier_barely_above_one_does_not_hang_or_overflow() -> None:
    policy = RetryPolicy(retry_interval_backoff_multiplier=1.0000000001)
    assert policy.delay_after_attempt(10**30) == 120.0
    assert policy.delay_after_attempt(2) == pytest.approx(1.0000000001)


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_are_numbered_from_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="numbered from 1"):
        RetryPolicy().delay_after_attempt(attempt)


@pytest.mark.parametrize(
    ("attempts_made", "expected"),
    [(0, True), (1, True), (5, True), (10, True), (11, False), (12, False), (1000, False)],
)
def test_may_retry_with_defaults(attempts_made: int, expected: bool) -> None:
    assert RetryPolicy().may_retry(attempts_made) is expected


def test_no_retries_means_a_single_attempt() -> None:
    policy = RetryPolicy(retry_attempts=0)
    assert policy.max_attempts == 1
    assert policy.may_retry(0)
    assert not policy.may_retry(1)


def test_may_retry_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        RetryPolicy().may_retry(-1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"retry_attempts": -1}, "retry_attempts must be 0 or more, not -1"),
        ({"retry_attempts": 1.5}, "retry_attempts must be a whole number, not 1.5"),
        ({"retry_attempts": True}, "retry_attempts must be a whole number, not True"),
        ({"retry_attempts": "3"}, "retry_attempts must be a whole number, not '3'"),
        (
            {"initial_retry_interval_seconds": -1},
            "initial_retry_interval_seconds must be 0 or more, not -1",
        ),
        (
            {"initial_retry_interval_seconds": "1"},
            "initial_retry_interval_seconds must be a number, not '1'",
        ),
        (
            {"initial_retry_interval_seconds": None},
            "initial_retry_interval_seconds must be a number, not None",
        ),
        (
            {"initial_retry_interval_seconds": math.nan},
            "initial_retry_interval_seconds must be a finite number, not nan",
        ),
        (
            {"maximum_retry_interval_seconds": math.inf},
            "maximum_retry_interval_seconds must be a finite number, not inf",
        ),
        (
            {"maximum_retry_interval_seconds": -5},
            "maximum_retry_interval_seconds must be at least "
            "initial_retry_interval_seconds (1.0), not -5",
        ),
        (
            {"initial_retry_interval_seconds": 10, "maximum_retry_interval_seconds": 5},
            "maximum_retry_interval_seconds must be at least "
            "initial_retry_interval_seconds (10), not 5",
        ),
        (
            {"retry_interval_backoff_multiplier": 0.5},
            "retry_interval_backoff_multiplier must be 1.0 or more, not 0.5",
        ),
        (
            {"retry_interval_backoff_multiplier": 0},
            "retry_interval_backoff_multiplier must be 1.0 or more, not 0",
        ),
        (
            {"retry_interval_backoff_multiplier": False},
            "retry_interval_backoff_multiplier must be a number, not False",
        ),
        (
            {"retry_interval_backoff_multiplier": -math.inf},
            "retry_interval_backoff_multiplier must be a finite number, not -inf",
        ),
    ],
)
def test_invalid_values_are_named(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        RetryPolicy(**fields)  # type: ignore[arg-type]
    assert raised.value.message == message


def test_integers_are_accepted_for_intervals() -> None:
    policy = RetryPolicy(
        initial_retry_interval_seconds=2,
        maximum_retry_interval_seconds=60,
        retry_interval_backoff_multiplier=3,
    )
    assert policy.delay_after_attempt(3) == 18.0


def test_the_policy_is_frozen_and_comparable() -> None:
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.retry_attempts = 3  # type: ignore[misc]
    assert policy == RetryPolicy()
    assert hash(policy) == hash(RetryPolicy())
    assert dataclasses.replace(policy, retry_attempts=3).max_attempts == 4


policies = st.builds(
    lambda attempts, initial, extra, multiplier: RetryPolicy(
        retry_attempts=attempts,
        initial_retry_interval_seconds=initial,
        maximum_retry_interval_seconds=initial + extra,
        retry_interval_backoff_multiplier=multiplier,
    ),
    st.integers(min_value=0, max_value=1000),
    st.floats(min_value=0, max_value=1e6),
    st.floats(min_value=0, max_value=1e6),
    st.floats(min_value=1.0, max_value=100.0),
)
attempts = st.integers(min_value=1, max_value=10**12)


@given(policies, attempts)
def test_delay_stays_between_the_first_delay_and_the_maximum(
    policy: RetryPolicy, attempt: int
) -> None:
    delay = policy.delay_after_attempt(attempt)
    assert math.isfinite(delay)
    assert policy.initial_retry_interval_seconds <= delay <= policy.maximum_retry_interval_seconds


@given(policies, attempts)
def test_delay_never_shrinks(policy: RetryPolicy, attempt: int) -> None:
    assert policy.delay_after_attempt(attempt) <= policy.delay_after_attempt(attempt + 1)


@given(policies, st.integers(min_value=1, max_value=60))
def test_delay_follows_the_formula(policy: RetryPolicy, attempt: int) -> None:
    initial = policy.initial_retry_interval_seconds
    multiplier = policy.retry_interval_backoff_multiplier
    try:
        expected = min(initial * multiplier ** (attempt - 1), policy.maximum_retry_interval_seconds)
    except OverflowError:
        expected = policy.maximum_retry_interval_seconds
    assert policy.delay_after_attempt(attempt) == pytest.approx(expected, rel=1e-9)


@given(policies)
def test_the_first_delay_is_the_initial_interval(policy: RetryPolicy) -> None:
    assert policy.delay_after_attempt(1) == policy.initial_retry_interval_seconds


@given(policies, st.integers(min_value=0, max_value=2000))
def test_may_retry_allows_exactly_max_attempts(policy: RetryPolicy, made: int) -> None:
    assert policy.may_retry(made) is (made < policy.retry_attempts + 1)
