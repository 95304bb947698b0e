"""A step's retry policy: how many attempts a target gets and how long to wait between them.

Defaults and names are those of Elastic Jobs. The delay before attempt n+1 is
min(initial * multiplier ** (n - 1), maximum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlfleet import limits
from sqlfleet.errors import InvalidValue


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and how patiently, a step retries a failed target."""

    retry_attempts: int = limits.DEFAULT_RETRY_ATTEMPTS
    initial_retry_interval_seconds: float = limits.DEFAULT_INITIAL_RETRY_INTERVAL
    maximum_retry_interval_seconds: float = limits.DEFAULT_MAXIMUM_RETRY_INTERVAL
    retry_interval_backoff_multiplier: float = limits.DEFAULT_BACKOFF_MULTIPLIER

    def __post_init__(self) -> None:
        attempts: object = self.retry_attempts
        # bool is an int to Python, but `retry_attempts: true` is a mistake, not a 1.
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            raise InvalidValue(f"retry_attempts must be a whole number, not {attempts!r}")
        if attempts < 0:
            raise InvalidValue(f"retry_attempts must be 0 or more, not {attempts}")
        initial = _number("initial_retry_interval_seconds", self.initial_retry_interval_seconds)
        maximum = _number("maximum_retry_interval_seconds", self.maximum_retry_interval_seconds)
        multiplier = _number(
            "retry_interval_backoff_multiplier", self.retry_interval_backoff_multiplier
        )
        if initial < 0:
            raise InvalidValue(f"initial_retry_interval_seconds must be 0 or more, not {initial}")
        if maximum < initial:
            raise InvalidValue(
                f"maximum_retry_interval_seconds must be at least "
                f"initial_retry_interval_seconds ({initial}), not {maximum}"
            )
        if multiplier < 1.0:
            raise InvalidValue(
                f"retry_interval_backoff_multiplier must be 1.0 or more, not {multiplier}"
            )

    @property
    def max_attempts(self) -> int:
        """The most attempts a target gets: the first one plus the retries."""
        return self.retry_attempts + 1

    def delay_after_attempt(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based) before the next."""
        if attempt < 1:
            raise ValueError(f"attempts are numbered from 1, not {attempt}")
        initial = float(self.initial_retry_interval_seconds)
        maximum = float(self.maximum_retry_interval_seconds)
        multiplier = float(self.retry_interval_backoff_multiplier)
        if initial == 0.0 or multiplier == 1.0:
            return min(initial, maximum)
        # Past this exponent the delay is the maximum anyway; capping it keeps huge attempt
        # numbers from overflowing the float. The +1 absorbs rounding in the logarithms.
        saturation = math.ceil((math.log(maximum) - math.log(initial)) / math.log(multiplier)) + 1
        exponent = min(attempt - 1, saturation)
        try:
            return min(initial * multiplier**exponent, maximum)
        except OverflowError:
            return maximum

    def may_retry(self, attempts_made: int) -> bool:
        """Whether another attempt may follow `attempts_made` failed ones."""
        if attempts_made < 0:
            raise ValueError(f"attempts_made must be 0 or more, not {attempts_made}")
        return attempts_made < self.max_attempts


def _number(field: str, value: object) -> float:
    """`value`, as the user wrote it, if it is a finite number; else InvalidValue."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"{field} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise InvalidValue(f"{field} must be a finite number, not {value}")
    return value
