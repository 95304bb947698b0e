"""Job schedules: once, every N minutes|hours|days|weeks|months, or cron, in a time zone.

All instants going in and out are aware datetimes in UTC; wall-clock reasoning happens inside,
in the schedule's time zone. One rule maps a wall-clock time to an instant everywhere here
(cron times, day/week/month intervals, naive start and end times): a time that does not exist
because the clocks sprang forward means the first instant after the jump (02:30 on a
spring-forward night in Paris is 03:00 CEST, as croniter does it too); a time that exists twice
because the clocks fell back means its first occurrence, so it fires once, not twice. A
consequence: on a fall-back night a cron such as `*/15 * * * *` pauses for the repeated hour;
use `every 15 minutes`, which counts elapsed time, where a steady beat matters more.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlfleet import limits
from sqlfleet.errors import InvalidSchedule, InvalidValue

KINDS = ("once", "interval", "cron")
UNITS = ("minutes", "hours", "days", "weeks", "months")

_USAGE = "use once, every N minutes|hours|days|weeks|months, or a cron expression"
_UNIT_WORDS = {word: unit for unit in UNITS for word in (unit, unit[:-1])}
# Beyond a century an interval is a typo, and the arithmetic would leave datetime's range.
_MAX_COUNT = dict(zip(UNITS, (52_560_000, 876_000, 36_500, 5_200, 1_200), strict=True))
_CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_CRON_TOKEN = re.compile(r"[0-9*?/,\-LW#]+")
_CRON_WORD = re.compile(r"[0-9A-Za-z*?/,\-#]+")
_NUMBERS = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_TICK = timedelta(microseconds=1)
_MINUTE = timedelta(minutes=1)


def _zone(name: str) -> ZoneInfo:
    """The IANA time zone called `name`, or InvalidSchedule."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        # ValueError for paths such as "../etc", OSError for directories such as "Europe".
        raise InvalidSchedule(f"unknown time zone '{name}'") from None


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant the naive wall-clock time `wall` names in `zone` (see the module docstring)."""
    wall = wall.replace(tzinfo=None)
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # `wall` fell in a gap. zoneinfo reads it with the offset after the jump for fold=1 (an
    # instant before the jump) and the offset before it for fold=0 (an instant after it), so
    # the jump lies between the two: find it to the second, where zone transitions fall.
    low = math.floor(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = math.ceil(instant.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _to_utc(moment: datetime, zone: ZoneInfo, label: str = "time") -> datetime:
    """`moment` in UTC; a naive `moment` is a wall-clock time in `zone`."""
    try:
        limits.check_time(label, moment)
    except InvalidValue as exc:
        raise InvalidSchedule(exc.message) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return _wall_to_utc(moment, zone)
    return moment.astimezone(UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time `zone` shows at `instant`."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _aware(name: str, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _add_months(wall: datetime, months: int) -> datetime:
    """`wall` moved by whole calendar months, the day clamped to the month's last day."""
    index = wall.year * 12 + wall.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError(f"year {year} is out of range")
    day = min(wall.day, calendar.monthrange(year, month + 1)[1])
    return wall.replace(year=year, month=month + 1, day=day)


def parse_time(text: str, timezone: str = "UTC") -> datetime:
    """An aware UTC datetime from ISO 8601 text or `now`; a time without offset is in `timezone`."""
    zone = _zone(timezone)
    value = text.strip()
    if value.lower() == "now":
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidSchedule(
            f"bad time '{text}': use ISO 8601, such as 2026-12-01T03:00 or "
            f"2026-12-01 03:00:00+01:00, or now"
        ) from None
    return _to_utc(parsed, zone)


def _cron_problem(expression: str) -> str | None:
    """What is wrong with a cron expression, or None if croniter accepts it and it fires."""
    # croniter (and dateutil) are imported where a cron expression is read: most commands
    # never read one, and every command would pay for their import.
    from croniter import CroniterBadDateError, CroniterError, croniter

    if expression.startswith("@"):
        if expression.lower() in _CRON_ALIASES:
            return None
        return "use @hourly, @daily, @weekly, @monthly or @yearly"
    fields = expression.split()
    if len(fields) != 5:
        return (
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"not {len(fields)}"
        )
    for (name, low, high), field in zip(_CRON_FIELDS, fields, strict=True):
        for part in field.split(","):
            numbers = _NUMBERS.fullmatch(part.split("/")[0])
            for number in numbers.groups() if numbers else ():
                if number is not None and not low <= int(number) <= high:
                    return f"{name} must be {low}-{high}, not {number}"
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return "it never fires"
    except (CroniterError, ValueError) as error:
        # Name the field croniter dislikes: its own message repeats the whole expression.
        for (name, _, _), field in zip(_CRON_FIELDS, fields, strict=True):
            probe = " ".join(field if other == name else "*" for other, _, _ in _CRON_FIELDS)
            try:
                croniter(probe, datetime(2000, 1, 1))
            except (CroniterError, ValueError):
                return f"the {name} field '{field}' is not valid"
        return str(error).removeprefix(f"[{expression}] ")
    return None


def _definition_problem(
    kind: str, count: int | None, unit: str | None, cron: str | None
) -> str | None:
    """What is wrong with a schedule's kind, interval and cron expression, or None."""
    if kind not in KINDS:
        return f"unknown schedule kind '{kind}': use once, interval or cron"
    if kind != "interval" and (count, unit) != (None, None):
        return f"a {kind} schedule takes no interval"
    if kind != "cron" and cron is not None:
        return f"a {kind} schedule takes no cron expression"
    if kind == "cron":
        if not cron:
            return "a cron schedule needs a cron expression"
        if len(cron) > limits.MAX_NAME:
            return f"a cron expression is at most {limits.MAX_NAME} characters, not {len(cron)}"
        problem = _cron_problem(cron)
        return problem and f"bad cron expression '{cron}': {problem}"
    if kind == "once":
        return None
    if count is None or unit is None:
        return "an interval schedule needs a count and a unit"
    if unit not in _MAX_COUNT:
        return f"unknown interval unit '{unit}': use minutes, hours, days, weeks or months"
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return f"schedule 'every {count} {unit}': the count must be a positive integer"
    if count > _MAX_COUNT[unit]:
        return f"schedule 'every {count} {unit}': the interval must be at most 100 years"
    return None


def _looks_like_cron(words: list[str]) -> bool:
    if words[0].startswith("@") or len(words) == 5:
        return True
    if len(words) in (6, 7):
        return all(_CRON_WORD.fullmatch(word) for word in words)
    return all(_CRON_TOKEN.fullmatch(word) for word in words)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a job starts by itself: once, at a fixed interval, or on a cron expression."""

    kind: str
    interval_count: int | None = None
    interval_unit: str | None = None
    cron: str | None = None
    timezone: str = "UTC"
    start_time: datetime | None = None
    end_time: datetime | None = None

    def __post_init__(self) -> None:
        problem = _definition_problem(self.kind, self.interval_count, self.interval_unit, self.cron)
        if problem is not None:
            raise InvalidSchedule(problem)
        zone = _zone(self.timezone)
        for field in ("start_time", "end_time"):
            moment: object = getattr(self, field)
            if moment is not None and not isinstance(moment, datetime):
                raise InvalidSchedule(f"the {field} must be a datetime, not {moment!r}")
            if isinstance(moment, datetime):
                object.__setattr__(self, field, _to_utc(moment, zone, field.replace("_", " ")))
        if (
            self.start_time is not None
            and self.end_time is not None
            and self.end_time <= self.start_time
        ):
            raise InvalidSchedule(
                f"the end time {self.end_time.isoformat()} must be after "
                f"the start time {self.start_time.isoformat()}"
            )

    @classmethod
    def parse(
        cls,
        spec: str,
        *,
        timezone: str = "UTC",
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> Schedule:
        """A schedule from `once`, `every N <unit>`, a 5-field cron expression or `@daily` etc.

        Naive start and end times are wall-clock times in `timezone`.
        """
        make = partial(cls, timezone=timezone, start_time=start_time, end_time=end_time)
        limits.SCHEDULE_SPEC.check(spec)
        text = " ".join(spec.split())
        if not text:
            raise InvalidSchedule(f"the schedule is empty: {_USAGE}")
        words = text.split(" ")
        if text.lower() == "once":
            return make("once")
        if words[0].lower() == "every":
            count, unit = _parse_interval(text, words[1:])
            return make("interval", interval_count=count, interval_unit=unit)
        if _looks_like_cron(words):
            return make("cron", cron=text.lower() if text.startswith("@") else text)
        raise InvalidSchedule(f"unknown schedule '{text}': {_USAGE}")

    @property
    def spec(self) -> str:
        """The schedule as `parse` reads it, without the time zone: `every 5 minutes`."""
        if self.kind == "interval":
            unit = cast(str, self.interval_unit)
            if self.interval_count == 1:
                return f"every {unit[:-1]}"
            return f"every {self.interval_count} {unit}"
        return self.cron or self.kind

    def describe(self) -> str:
        """The schedule for people: its spec, and its time zone when that is not UTC."""
        return self.spec if self.timezone == "UTC" else f"{self.spec} ({self.timezone})"

    def __str__(self) -> str:
        return self.describe()

    def next_fire_time(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """The first fire time strictly after `after`, or None if the schedule never fires again.

        `anchor` (the job's creation time) stands in for a missing start time of `once` and
        interval schedules; without either, ValueError. Fire times are never before the start
        time, and the end time is the last moment the schedule may fire.
        """
        after = _aware("after", after)
        base = None if self.kind == "cron" else self._base(anchor)
        try:
            if base is None:
                floor = after if self.start_time is None else max(after, self.start_time - _TICK)
                fire = self._cron_after(floor)
            else:
                fire = base if self.kind == "once" else self._interval_after(after, base)
        except OverflowError:  # past the year 9999
            return None
        if fire is None or fire <= after or (self.end_time and fire > self.end_time):
            return None
        return fire

    def due_fire_time(
        self, last_fire: datetime | None, now: datetime, *, anchor: datetime
    ) -> datetime | None:
        """The most recent fire time at or before `now` and after `last_fire`, or None.

        Missed fire times coalesce: an agent that was down while the schedule fired many times
        gets only the latest of them, once. With no `last_fire`, fire times before `anchor`
        (the job's creation time) are not due, so a new job does not run at once for a time
        that passed before it existed; the exception is `once`, which runs as soon as it can
        when its time has already passed.
        """
        now = _aware("now", now)
        anchor = _aware("anchor", anchor)
        last_fire = None if last_fire is None else _aware("last_fire", last_fire)
        bound = now if self.end_time is None else min(now, self.end_time)
        try:
            if self.kind == "once":
                fire: datetime | None = self._base(anchor)
            elif self.kind == "interval":
                fire = self._interval_at_or_before(bound, self._base(anchor))
            else:
                fire = self._cron_at_or_before(bound)
        except OverflowError:  # before the year 1
            return None
        if fire is None or fire > bound:
            return None
        if self.start_time is not None and fire < self.start_time:
            return None
        if last_fire is not None:
            return fire if fire > last_fire else None
        if self.kind != "once" and fire < anchor:
            return None
        return fire

    # -- the arithmetic -----------------------------------------------------------------------

    def _base(self, anchor: datetime | None) -> datetime:
        """The first fire time of a `once` or interval schedule."""
        if self.start_time is not None:
            return self.start_time
        if anchor is None:
            raise ValueError(f"a '{self.spec}' schedule without a start time needs an anchor")
        return _aware("anchor", anchor)

    def _fixed_step(self) -> timedelta | None:
        """The interval as elapsed time, for minutes and hours; None for calendar units."""
        count = cast(int, self.interval_count)
        if self.interval_unit == "minutes":
            return timedelta(minutes=count)
        if self.interval_unit == "hours":
            return timedelta(hours=count)
        return None

    def _calendar_fire(self, k: int, base: datetime, zone: ZoneInfo) -> datetime:
        """Fire time number `k` of a days, weeks or months interval, on the zone's wall clock."""
        if k == 0:
            return base
        count = cast(int, self.interval_count)
        wall = _wall(base, zone)
        if self.interval_unit == "months":
            return _wall_to_utc(_add_months(wall, k * count), zone)
        days = count * (7 if self.interval_unit == "weeks" else 1)
        return _wall_to_utc(wall + timedelta(days=k * days), zone)

    def _calendar_index(self, moment: datetime, base: datetime, zone: ZoneInfo) -> int:
        """Roughly how many calendar intervals fit between `base` and `moment` (off by <= 1)."""
        count = cast(int, self.interval_count)
        then, at = _wall(base, zone), _wall(moment, zone)
        if self.interval_unit == "months":
            return ((at.year - then.year) * 12 + at.month - then.month) // count
        days = count * (7 if self.interval_unit == "weeks" else 1)
        return (at - then) // timedelta(days=days)

    def _interval_after(self, after: datetime, base: datetime) -> datetime:
        if after < base:
            return base
        step = self._fixed_step()
        if step is not None:
            return base + ((after - base) // step + 1) * step
        zone = _zone(self.timezone)
        k = max(0, self._calendar_index(after, base, zone) - 1)
        while (fire := self._calendar_fire(k, base, zone)) <= after:
            k += 1
        return fire

    def _interval_at_or_before(self, bound: datetime, base: datetime) -> datetime | None:
        if bound < base:
            return None
        step = self._fixed_step()
        if step is not None:
            return base + (bound - base) // step * step
        zone = _zone(self.timezone)
        k = max(0, self._calendar_index(bound, base, zone))
        while self._calendar_fire(k + 1, base, zone) <= bound:
            k += 1
        while k > 0 and self._calendar_fire(k, base, zone) > bound:
            k -= 1
        return self._calendar_fire(k, base, zone)

    def _cron_expression(self) -> str:
        cron = cast(str, self.cron)
        return _CRON_ALIASES.get(cron.lower(), cron)

    def _cron_after(self, floor: datetime) -> datetime | None:
        from croniter import CroniterError, croniter

        zone = _zone(self.timezone)
        matches = croniter(self._cron_expression(), _wall(floor, zone))
        try:
            # More than one round only when `floor` is in the second pass of a repeated hour:
            # the repeated wall times map to their first pass, which is already behind us.
            while True:
                fire = _wall_to_utc(cast(datetime, matches.get_next(datetime)), zone)
                if fire > floor:
                    return fire
        except (CroniterError, ValueError):
            return None

    def _cron_at_or_before(self, bound: datetime) -> datetime | None:
        from croniter import CroniterError, croniter

        zone = _zone(self.timezone)
        local = bound.astimezone(zone)
        wall = local.replace(tzinfo=None, fold=0)
        # In the second pass of a repeated hour, wall times up to an hour later were first
        # passed before `bound`: start looking from there.
        ahead = cast(timedelta, local.replace(fold=0).utcoffset()) - cast(
            timedelta, local.utcoffset()
        )
        start = (wall + max(ahead, timedelta(0))).replace(second=0, microsecond=0) + _MINUTE
        matches = croniter(self._cron_expression(), start)
        try:
            while True:
                fire = _wall_to_utc(cast(datetime, matches.get_prev(datetime)), zone)
                if fire <= bound:
                    return fire
        except (CroniterError, ValueError):
            return None


def _parse_interval(text: str, words: list[str]) -> tuple[int, str]:
    """The count and unit of `every [N] <unit>`."""
    if len(words) == 1 and not words[0].lstrip("+-").isdigit():
        count_text, unit_text = "1", words[0]
    elif len(words) == 2:
        count_text, unit_text = words
    else:
        raise InvalidSchedule(f"schedule '{text}': use every N minutes|hours|days|weeks|months")
    unit = _UNIT_WORDS.get(unit_text.lower())
    if unit is None:
        raise InvalidSchedule(
            f"schedule '{text}': the unit must be minutes, hours, days, weeks or months, "
            f"not '{unit_text}'"
        )
    digits = count_text.lstrip("0")
    if not re.fullmatch(r"[0-9]+", digits):
        raise InvalidSchedule(f"schedule '{text}': the count must be a positive integer")
    if len(digits) > 20:  # int() refuses very long digit strings; this is too big anyway
        raise InvalidSchedule(f"schedule '{text}': the interval must be at most 100 years")
    return int(digits), unit
