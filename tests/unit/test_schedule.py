"""Schedules: parsing, describing, and fire times across time zones and DST changes."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlfleet.errors import InvalidSchedule, InvalidValue
from sqlfleet.schedule import Schedule, parse_time

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    """An aware UTC datetime from year, month, day, and optionally hour down to microsecond."""
    return datetime(*parts).replace(tzinfo=UTC)  # type: ignore[arg-type]


def fires(
    schedule: Schedule, after: datetime, count: int, *, anchor: datetime | None = None
) -> list[datetime]:
    """The next `count` fire times after `after`."""
    found: list[datetime] = []
    for _ in range(count):
        fire = schedule.next_fire_time(after, anchor=anchor)
        if fire is None:
            break
        found.append(fire)
        after = fire
    return found


def fires_between(schedule: Schedule, start: datetime, end: datetime) -> Iterator[datetime]:
    after = start
    while (fire := schedule.next_fire_time(after, anchor=start)) is not None and fire <= end:
        yield fire
        after = fire


def local(moments: list[datetime], zone: ZoneInfo) -> list[str]:
    return [moment.astimezone(zone).isoformat() for moment in moments]


# -- parse --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "count", "unit"),
    [
        ("every 5 minutes", 5, "minutes"),
        ("every 1 minute", 1, "minutes"),
        ("every minute", 1, "minutes"),
        ("every 2 hours", 2, "hours"),
        ("every 1 hour", 1, "hours"),
        ("every hour", 1, "hours"),
        ("every day", 1, "days"),
        ("every 3 days", 3, "days"),
        ("every week", 1, "weeks"),
        ("every 2 weeks", 2, "weeks"),
        ("every month", 1, "months"),
        ("every 6 months", 6, "months"),
        ("every 2 day", 2, "days"),
        ("Every 5 Minutes", 5, "minutes"),
        ("EVERY DAY", 1, "days"),
        ("  every   10\tminutes  ", 10, "minutes"),
        ("every 007 hours", 7, "hours"),
        ("every 0000000000000000000000000001 day", 1, "days"),
    ],
)
def test_parse_intervals(spec: str, count: int, unit: str) -> None:
    schedule = Schedule.parse(spec)
    assert schedule == Schedule("interval", interval_count=count, interval_unit=unit)


@pytest.mark.parametrize("spec", ["once", "ONCE", " Once "])
def test_parse_once(spec: str) -> None:
    assert Schedule.parse(spec) == Schedule("once")


@pytest.mark.parametrize(
    ("spec", "cron"),
    [
        ("0 3 * * *", "0 3 * * *"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("  0   3 *  * 1-5 ", "0 3 * * 1-5"),
        ("0 0 * * MON-FRI", "0 0 * * MON-FRI"),
        ("0 0 1 jan *", "0 0 1 jan *"),
        ("0 0 * * 7", "0 0 * * 7"),
        ("0 0 29 2 *", "0 0 29 2 *"),
        ("5,35 8-18/2 * * *", "5,35 8-18/2 * * *"),
        ("@hourly", "@hourly"),
        ("@daily", "@daily"),
        ("@Daily", "@daily"),
        ("@weekly", "@weekly"),
        ("@monthly", "@monthly"),
        ("@yearly", "@yearly"),
        ("@annually", "@annually"),
        ("@midnight", "@midnight"),
    ],
)
def test_parse_cron(spec: str, cron: str) -> None:
    assert Schedule.parse(spec) == Schedule("cron", cron=cron)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "sometimes",
            "unknown schedule 'sometimes': "
            "use once, every N minutes|hours|days|weeks|months, or a cron expression",
        ),
        (
            "",
            "the schedule is empty: "
            "use once, every N minutes|hours|days|weeks|months, or a cron expression",
        ),
        (
            "   ",
            "the schedule is empty: "
            "use once, every N minutes|hours|days|weeks|months, or a cron expression",
        ),
        (
            "5 minutes",
            "unknown schedule '5 minutes': "
            "use once, every N minutes|hours|days|weeks|months, or a cron expression",
        ),
        (
            "once a day",
            "unknown schedule 'once a day': "
            "use once, every N minutes|hours|days|weeks|months, or a cron expression",
        ),
        ("every -2 days", "schedule 'every -2 days': the count must be a positive integer"),
        ("every 0 days", "schedule 'every 0 days': the count must be a positive integer"),
        ("every 000 days", "schedule 'every 000 days': the count must be a positive integer"),
        ("every 1.5 hours", "schedule 'every 1.5 hours': the count must be a positive integer"),
        ("every two days", "schedule 'every two days': the count must be a positive integer"),
        ("every +3 days", "schedule 'every +3 days': the count must be a positive integer"),
        ("every", "schedule 'every': use every N minutes|hours|days|weeks|months"),
        ("every 5", "schedule 'every 5': use every N minutes|hours|days|weeks|months"),
        (
            "every 5 minutes please",
            "schedule 'every 5 minutes please': use every N minutes|hours|days|weeks|months",
        ),
        (
            "every 3 fortnights",
            "schedule 'every 3 fortnights': "
            "the unit must be minutes, hours, days, weeks or months, not 'fortnights'",
        ),
        (
            "every 2 seconds",
            "schedule 'every 2 seconds': "
            "the unit must be minutes, hours, days, weeks or months, not 'seconds'",
        ),
        (
            "every 5300 weeks",
            "schedule 'every 5300 weeks': the interval must be at most 100 years",
        ),
        (
            "every 1201 months",
            "schedule 'every 1201 months': the interval must be at most 100 years",
        ),
        (
            "every 99999999999999999999 minutes",
            "schedule 'every 99999999999999999999 minutes': the interval must be at most 100 years",
        ),
        ("61 * * * *", "bad cron expression '61 * * * *': minute must be 0-59, not 61"),
        ("* 24 * * *", "bad cron expression '* 24 * * *': hour must be 0-23, not 24"),
        ("0 0 0 * *", "bad cron expression '0 0 0 * *': day of month must be 1-31, not 0"),
        ("0 0 32 * *", "bad cron expression '0 0 32 * *': day of month must be 1-31, not 32"),
        ("0 0 1 13 *", "bad cron expression '0 0 1 13 *': month must be 1-12, not 13"),
        ("0 0 * * 8", "bad cron expression '0 0 * * 8': day of week must be 0-7, not 8"),
        ("1-70 * * * *", "bad cron expression '1-70 * * * *': minute must be 0-59, not 70"),
        ("5,99 * * * *", "bad cron expression '5,99 * * * *': minute must be 0-59, not 99"),
        ("60/5 * * * *", "bad cron expression '60/5 * * * *': minute must be 0-59, not 60"),
        ("*/0 * * * *", "bad cron expression '*/0 * * * *': the minute field '*/0' is not valid"),
        ("a b c d e", "bad cron expression 'a b c d e': the minute field 'a' is not valid"),
        (
            "0 0 * * funday",
            "bad cron expression '0 0 * * funday': the day of week field 'funday' is not valid",
        ),
        ("0 0 30 2 *", "bad cron expression '0 0 30 2 *': it never fires"),
        ("0 0 31 4 *", "bad cron expression '0 0 31 4 *': it never fires"),
        (
            "* * * *",
            "bad cron expression '* * * *': a cron expression has 5 fields "
            "(minute hour day-of-month month day-of-week), not 4",
        ),
        (
            "* * * * * *",
            "bad cron expression '* * * * * *': a cron expression has 5 fields "
            "(minute hour day-of-month month day-of-week), not 6",
        ),
        (
            "0 0 * * * 2026 x",
            "bad cron expression '0 0 * * * 2026 x': a cron expression has 5 fields "
            "(minute hour day-of-month month day-of-week), not 7",
        ),
        (
            "61",
            "bad cron expression '61': a cron expression has 5 fields "
            "(minute hour day-of-month month day-of-week), not 1",
        ),
        (
            "@reboot",
            "bad cron expression '@reboot': use @hourly, @daily, @weekly, @monthly or @yearly",
        ),
    ],
)
def test_parse_errors_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(InvalidSchedule) as raised:
        Schedule.parse(spec)
    assert raised.value.message == message
    assert "\n" not in raised.value.message


def test_a_count_with_thousands_of_digits_is_too_big() -> None:
    spec = f"every {'9' * 5000} minutes"
    with pytest.raises(InvalidSchedule, match="the interval must be at most 100 years"):
        Schedule.parse(spec)


def test_schedule_errors_are_invalid_values() -> None:
    with pytest.raises(InvalidValue):
        Schedule.parse("sometimes")


@pytest.mark.parametrize(
    "zone", ["Mars/Base", "../etc", "Europe", "", "/etc/passwd", "Europe/Paris ", "UTC\x00"]
)
def test_unknown_time_zones_are_refused(zone: str) -> None:
    with pytest.raises(InvalidSchedule) as raised:
        Schedule.parse("once", timezone=zone)
    assert raised.value.message == f"unknown time zone '{zone}'"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_known_time_zones_are_kept(zone: str) -> None:
    assert Schedule.parse("0 3 * * *", timezone=zone).timezone == zone


def test_naive_start_and_end_are_wall_clock_times_in_the_zone() -> None:
    schedule = Schedule.parse(
        "every day",
        timezone="Europe/Paris",
        start_time=datetime(2026, 7, 1, 3, 0),
        end_time=datetime(2026, 12, 1, 3, 0),
    )
    assert schedule.start_time == utc(2026, 7, 1, 1, 0)
    assert schedule.end_time == utc(2026, 12, 1, 2, 0)
    assert schedule.start_time.tzinfo is UTC
    assert schedule.end_time.tzinfo is UTC


def test_aware_start_and_end_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    schedule = Schedule.parse(
        "once",
        timezone="America/New_York",
        start_time=datetime(2026, 7, 1, 3, 0, tzinfo=plus_two),
        end_time=datetime(2026, 7, 2, 3, 0, tzinfo=NEW_YORK),
    )
    assert schedule.start_time == utc(2026, 7, 1, 1, 0)
    assert schedule.start_time.tzinfo is UTC
    assert schedule.end_time == utc(2026, 7, 2, 7, 0)


def test_a_naive_start_in_a_dst_gap_is_the_first_instant_after_it() -> None:
    schedule = Schedule.parse(
        "once", timezone="Europe/Paris", start_time=datetime(2026, 3, 29, 2, 30)
    )
    assert schedule.start_time == utc(2026, 3, 29, 1, 0)


def test_a_naive_start_in_a_dst_overlap_is_its_first_occurrence() -> None:
    schedule = Schedule.parse(
        "once", timezone="America/New_York", start_time=datetime(2026, 11, 1, 1, 30)
    )
    assert schedule.start_time == utc(2026, 11, 1, 5, 30)


@pytest.mark.parametrize("gap", [timedelta(0), timedelta(hours=-1)])
def test_end_must_be_after_start(gap: timedelta) -> None:
    start = utc(2026, 1, 1)
    with pytest.raises(InvalidSchedule) as raised:
        Schedule.parse("every day", start_time=start, end_time=start + gap)
    assert raised.value.message == (
        f"the end time {(start + gap).isoformat()} must be after the start time {start.isoformat()}"
    )


def test_only_an_end_time_is_fine() -> None:
    assert Schedule.parse("every day", end_time=utc(2026, 1, 1)).end_time == utc(2026, 1, 1)


# -- construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "weekly"}, "unknown schedule kind 'weekly': use once, interval or cron"),
        ({"kind": "interval"}, "an interval schedule needs a count and a unit"),
        (
            {"kind": "interval", "interval_unit": "days"},
            "an interval schedule needs a count and a unit",
        ),
        ({"kind": "cron", "cron": ""}, "a cron schedule needs a cron expression"),
        (
            {"kind": "interval", "interval_count": 2, "interval_unit": "fortnights"},
            "unknown interval unit 'fortnights': use minutes, hours, days, weeks or months",
        ),
        (
            {"kind": "interval", "interval_count": 0, "interval_unit": "days"},
            "schedule 'every 0 days': the count must be a positive integer",
        ),
        (
            {"kind": "interval", "interval_count": True, "interval_unit": "days"},
            "schedule 'every True days': the count must be a positive integer",
        ),
        (
            {"kind": "interval", "interval_count": 1.0, "interval_unit": "days"},
            "schedule 'every 1.0 days': the count must be a positive integer",
        ),
        ({"kind": "once", "interval_count": 1}, "a once schedule takes no interval"),
        (
            {"kind": "cron", "cron": "* * * * *", "interval_unit": "days"},
            "a cron schedule takes no interval",
        ),
        ({"kind": "once", "cron": "* * * * *"}, "a once schedule takes no cron expression"),
        (
            {"kind": "cron"},
            "a cron schedule needs a cron expression",
        ),
        (
            {"kind": "once", "start_time": "2026-01-01"},
            "the start_time must be a datetime, not '2026-01-01'",
        ),
        ({"kind": "once", "timezone": "Nowhere"}, "unknown time zone 'Nowhere'"),
    ],
)
def test_direct_construction_is_validated(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSchedule) as raised:
        Schedule(**fields)  # type: ignore[arg-type]
    assert raised.value.message == message


def test_a_schedule_is_frozen_hashable_and_comparable() -> None:
    schedule = Schedule.parse("every 5 minutes", timezone="Europe/Paris")
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.kind = "once"  # type: ignore[misc]
    assert schedule == Schedule.parse("every  5 minutes", timezone="Europe/Paris")
    assert hash(schedule) == hash(Schedule.parse("every 5 minutes", timezone="Europe/Paris"))
    assert schedule != Schedule.parse("every 5 minutes")


# -- describe -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "zone", "description"),
    [
        ("once", "UTC", "once"),
        ("every 5 minutes", "UTC", "every 5 minutes"),
        ("every 1 minute", "UTC", "every minute"),
        ("every 1 hours", "UTC", "every hour"),
        ("every day", "UTC", "every day"),
        ("every 2 day", "UTC", "every 2 days"),
        ("every 1 week", "UTC", "every week"),
        ("every 3 months", "UTC", "every 3 months"),
        ("0 3 * * *", "UTC", "0 3 * * *"),
        ("0  3 * *  *", "UTC", "0 3 * * *"),
        ("@DAILY", "UTC", "@daily"),
        ("0 3 * * *", "Europe/Paris", "0 3 * * * (Europe/Paris)"),
        ("every day", "America/New_York", "every day (America/New_York)"),
        ("once", "Europe/Paris", "once (Europe/Paris)"),
    ],
)
def test_describe(spec: str, zone: str, description: str) -> None:
    schedule = Schedule.parse(spec, timezone=zone)
    assert schedule.describe() == description
    assert str(schedule) == description


specs = st.one_of(
    st.just("once"),
    st.builds(
        "every {} {}".format,
        st.integers(min_value=1, max_value=1200),
        st.sampled_from(["minutes", "hours", "days", "weeks", "months"]),
    ),
    st.sampled_from(["0 3 * * *", "*/15 * * * *", "30 2 * * 1-5", "@hourly", "0 0 1 * *"]),
)
zones = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"])


@given(specs, zones)
def test_spec_parses_back_to_the_same_schedule(spec: str, zone: str) -> None:
    schedule = Schedule.parse(spec, timezone=zone)
    assert Schedule.parse(schedule.spec, timezone=zone) == schedule


# -- parse_time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2026-12-01T03:00", "UTC", utc(2026, 12, 1, 3, 0)),
        ("2026-12-01T03:00", "Europe/Paris", utc(2026, 12, 1, 2, 0)),
        ("2026-07-01T03:00", "Europe/Paris", utc(2026, 7, 1, 1, 0)),
        ("2026-12-01 03:00:00+01:00", "UTC", utc(2026, 12, 1, 2, 0)),
        ("2026-12-01 03:00:00+01:00", "America/New_York", utc(2026, 12, 1, 2, 0)),
        ("2026-12-01T03:00:00Z", "Europe/Paris", utc(2026, 12, 1, 3, 0)),
        ("2026-12-01", "America/New_York", utc(2026, 12, 1, 5, 0)),
        ("  2026-12-01T03:00:30.5  ", "UTC", datetime(2026, 12, 1, 3, 0, 30, 500000, UTC)),
        ("2026-03-08T02:30", "America/New_York", utc(2026, 3, 8, 7, 0)),
        ("2026-11-01T01:30", "America/New_York", utc(2026, 11, 1, 5, 30)),
    ],
)
def test_parse_time(text: str, zone: str, expected: datetime) -> None:
    parsed = parse_time(text, zone)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["now", "NOW", " Now "])
def test_parse_time_now(text: str) -> None:
    before = datetime.now(UTC)
    parsed = parse_time(text)
    assert before <= parsed <= datetime.now(UTC)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-13-01", "2026-02-30T00:00", "03:00", "x"])
def test_parse_time_names_bad_text(text: str) -> None:
    with pytest.raises(InvalidSchedule) as raised:
        parse_time(text)
    assert raised.value.message.startswith(f"bad time '{text}': use ISO 8601")


def test_parse_time_refuses_an_unknown_zone() -> None:
    with pytest.raises(InvalidSchedule, match="unknown time zone 'Mars/Base'"):
        parse_time("2026-01-01", "Mars/Base")


# -- next_fire_time: once -----------------------------------------------------------------


def test_once_fires_at_its_start_time() -> None:
    schedule = Schedule.parse("once", start_time=utc(2026, 12, 1, 3))
    assert schedule.next_fire_time(utc(2026, 1, 1)) == utc(2026, 12, 1, 3)
    assert schedule.next_fire_time(utc(2026, 12, 1, 2, 59, 59)) == utc(2026, 12, 1, 3)
    assert schedule.next_fire_time(utc(2026, 12, 1, 3)) is None
    assert schedule.next_fire_time(utc(2027, 1, 1)) is None


def test_once_without_start_fires_at_the_anchor() -> None:
    schedule = Schedule.parse("once")
    created = utc(2026, 5, 1, 12)
    assert schedule.next_fire_time(utc(2026, 5, 1), anchor=created) == created
    assert schedule.next_fire_time(created, anchor=created) is None


def test_start_time_wins_over_the_anchor() -> None:
    schedule = Schedule.parse("once", start_time=utc(2026, 12, 1))
    assert schedule.next_fire_time(utc(2026, 1, 1), anchor=utc(2026, 6, 1)) == utc(2026, 12, 1)


@pytest.mark.parametrize("spec", ["once", "every 5 minutes", "every day"])
def test_without_start_or_anchor_there_is_nothing_to_count_from(spec: str) -> None:
    with pytest.raises(ValueError, match="needs an anchor"):
        Schedule.parse(spec).next_fire_time(utc(2026, 1, 1))


def test_a_cron_needs_no_anchor() -> None:
    assert Schedule.parse("0 3 * * *").next_fire_time(utc(2026, 1, 1)) == utc(2026, 1, 1, 3)


@pytest.mark.parametrize("spec", ["once", "every 5 minutes", "0 3 * * *"])
def test_naive_instants_are_refused(spec: str) -> None:
    schedule = Schedule.parse(spec, start_time=utc(2026, 1, 1))
    with pytest.raises(ValueError, match="must be an aware datetime"):
        schedule.next_fire_time(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="must be an aware datetime"):
        schedule.due_fire_time(None, datetime(2026, 1, 1), anchor=utc(2026, 1, 1))
    with pytest.raises(ValueError, match="must be an aware datetime"):
        schedule.due_fire_time(None, utc(2026, 1, 1), anchor=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="must be an aware datetime"):
        schedule.due_fire_time(datetime(2026, 1, 1), utc(2026, 1, 1), anchor=utc(2026, 1, 1))


def test_results_are_utc_whatever_the_input_offset() -> None:
    schedule = Schedule.parse("0 3 * * *", timezone="Europe/Paris")
    fire = schedule.next_fire_time(datetime(2026, 7, 1, 12, tzinfo=NEW_YORK))
    assert fire == utc(2026, 7, 2, 1)
    assert fire is not None
    assert fire.tzinfo is UTC


# -- next_fire_time: intervals ------------------------------------------------------------


def test_every_5_minutes_from_the_start() -> None:
    schedule = Schedule.parse("every 5 minutes", start_time=utc(2026, 1, 1, 0, 2))
    assert fires(schedule, utc(2025, 1, 1), 3) == [
        utc(2026, 1, 1, 0, 2),
        utc(2026, 1, 1, 0, 7),
        utc(2026, 1, 1, 0, 12),
    ]
    assert schedule.next_fire_time(utc(2026, 1, 1, 0, 7)) == utc(2026, 1, 1, 0, 12)
    assert schedule.next_fire_time(utc(2026, 1, 1, 0, 6, 59)) == utc(2026, 1, 1, 0, 7)


def test_interval_counts_from_the_anchor_without_a_start() -> None:
    schedule = Schedule.parse("every 2 hours")
    created = datetime(2026, 1, 1, 10, 17, 3, 250, UTC)
    assert fires(schedule, created - timedelta(seconds=1), 3, anchor=created) == [
        created,
        created + timedelta(hours=2),
        created + timedelta(hours=4),
    ]


def test_interval_far_ahead_is_computed_not_looped() -> None:
    schedule = Schedule.parse("every minute", start_time=utc(2000, 1, 1))
    began = time.perf_counter()
    assert schedule.next_fire_time(datetime(2099, 6, 1, 12, 30, 30, tzinfo=UTC)) == utc(
        2099, 6, 1, 12, 31
    )
    assert time.perf_counter() - began < 0.5


def test_hours_are_elapsed_time_across_dst() -> None:
    schedule = Schedule.parse("every hour", timezone="Europe/Paris", start_time=utc(2026, 3, 28))
    assert fires(schedule, utc(2026, 3, 29, 0, 30), 3) == [
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 2),
        utc(2026, 3, 29, 3),
    ]
    assert local(fires(schedule, utc(2026, 3, 29, 0, 30), 2), PARIS) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]


def test_every_90_minutes_is_exact() -> None:
    schedule = Schedule.parse("every 90 minutes", start_time=utc(2026, 1, 1))
    assert schedule.next_fire_time(utc(2026, 1, 2)) == utc(2026, 1, 2, 1, 30)


def test_every_day_stays_at_the_same_local_time_across_spring_forward() -> None:
    schedule = Schedule.parse(
        "every day", timezone="Europe/Paris", start_time=datetime(2026, 3, 27, 3, 0)
    )
    assert local(fires(schedule, utc(2026, 3, 27), 4), PARIS) == [
        "2026-03-27T03:00:00+01:00",
        "2026-03-28T03:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T03:00:00+02:00",
    ]


def test_every_day_stays_at_the_same_local_time_across_fall_back() -> None:
    schedule = Schedule.parse(
        "every day", timezone="Europe/Paris", start_time=datetime(2026, 10, 24, 3, 0)
    )
    assert fires(schedule, utc(2026, 10, 24), 3) == [
        utc(2026, 10, 24, 1),
        utc(2026, 10, 25, 2),
        utc(2026, 10, 26, 2),
    ]


def test_every_day_at_a_time_in_the_gap_fires_after_the_gap() -> None:
    schedule = Schedule.parse(
        "every day", timezone="America/New_York", start_time=datetime(2026, 3, 7, 2, 30)
    )
    assert local(fires(schedule, utc(2026, 3, 7), 3), NEW_YORK) == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_every_day_at_a_time_in_the_overlap_fires_once() -> None:
    schedule = Schedule.parse(
        "every day", timezone="America/New_York", start_time=datetime(2026, 10, 31, 1, 30)
    )
    assert local(fires(schedule, utc(2026, 10, 31), 3), NEW_YORK) == [
        "2026-10-31T01:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_a_start_in_the_second_pass_of_an_overlap_is_kept() -> None:
    start = utc(2026, 11, 1, 6, 30)  # 01:30 EST, the second 01:30 of the night
    schedule = Schedule.parse("every day", timezone="America/New_York", start_time=start)
    assert fires(schedule, start - timedelta(seconds=1), 2) == [start, utc(2026, 11, 2, 6, 30)]


def test_every_week_keeps_weekday_and_local_time() -> None:
    schedule = Schedule.parse(
        "every week", timezone="America/New_York", start_time=datetime(2026, 2, 23, 9, 0)
    )
    assert local(fires(schedule, utc(2026, 2, 1), 4), NEW_YORK) == [
        "2026-02-23T09:00:00-05:00",
        "2026-03-02T09:00:00-05:00",
        "2026-03-09T09:00:00-04:00",
        "2026-03-16T09:00:00-04:00",
    ]


def test_every_2_weeks() -> None:
    schedule = Schedule.parse("every 2 weeks", start_time=utc(2026, 1, 5, 8))
    assert fires(schedule, utc(2026, 1, 6), 2) == [utc(2026, 1, 19, 8), utc(2026, 2, 2, 8)]


def test_every_month_from_the_31st_clamps_without_drifting() -> None:
    schedule = Schedule.parse("every month", start_time=utc(2026, 1, 31, 5))
    assert fires(schedule, utc(2026, 1, 1), 6) == [
        utc(2026, 1, 31, 5),
        utc(2026, 2, 28, 5),
        utc(2026, 3, 31, 5),
        utc(2026, 4, 30, 5),
        utc(2026, 5, 31, 5),
        utc(2026, 6, 30, 5),
    ]


def test_every_month_in_a_leap_year() -> None:
    schedule = Schedule.parse("every month", start_time=utc(2028, 1, 30))
    assert fires(schedule, utc(2028, 1, 30), 2) == [utc(2028, 2, 29), utc(2028, 3, 30)]


def test_every_3_months_across_a_year() -> None:
    schedule = Schedule.parse("every 3 months", start_time=utc(2026, 11, 30, 12))
    assert fires(schedule, utc(2026, 12, 1), 3) == [
        utc(2027, 2, 28, 12),
        utc(2027, 5, 30, 12),
        utc(2027, 8, 30, 12),
    ]


def test_every_month_keeps_local_time_across_dst() -> None:
    schedule = Schedule.parse(
        "every month", timezone="Europe/Paris", start_time=datetime(2026, 1, 15, 3, 0)
    )
    assert local(fires(schedule, utc(2026, 2, 1), 3), PARIS) == [
        "2026-02-15T03:00:00+01:00",
        "2026-03-15T03:00:00+01:00",
        "2026-04-15T03:00:00+02:00",
    ]


def test_every_month_far_ahead_is_computed_not_looped() -> None:
    schedule = Schedule.parse("every month", start_time=utc(1990, 1, 31))
    assert schedule.next_fire_time(utc(2090, 2, 10)) == utc(2090, 2, 28)
    assert schedule.next_fire_time(utc(2090, 2, 28)) == utc(2090, 3, 31)


def test_interval_before_its_start_fires_at_the_start() -> None:
    schedule = Schedule.parse("every day", start_time=utc(2026, 6, 1, 12))
    assert schedule.next_fire_time(utc(2020, 1, 1)) == utc(2026, 6, 1, 12)


def test_interval_stops_at_the_end_time_which_may_fire() -> None:
    schedule = Schedule.parse("every hour", start_time=utc(2026, 1, 1), end_time=utc(2026, 1, 1, 3))
    assert fires(schedule, utc(2025, 12, 31), 10) == [
        utc(2026, 1, 1, 0),
        utc(2026, 1, 1, 1),
        utc(2026, 1, 1, 2),
        utc(2026, 1, 1, 3),
    ]
    assert schedule.next_fire_time(utc(2026, 1, 1, 3)) is None
    assert schedule.next_fire_time(utc(2030, 1, 1)) is None


@pytest.mark.parametrize("spec", ["every 5 minutes", "every day", "every month", "0 * * * *"])
def test_the_end_of_time_is_no_error(spec: str) -> None:
    schedule = Schedule.parse(spec, start_time=utc(2026, 1, 1))
    assert schedule.next_fire_time(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)) is None


def test_the_end_of_time_is_no_error_in_a_zone() -> None:
    schedule = Schedule.parse("every day", timezone="Asia/Tokyo", start_time=utc(2026, 1, 1))
    assert schedule.next_fire_time(datetime(9999, 12, 31, 12, tzinfo=UTC)) is None
    cron = Schedule.parse("0 3 * * *", timezone="Asia/Tokyo")
    assert cron.next_fire_time(datetime(9999, 12, 31, 12, tzinfo=UTC)) is None


# -- next_fire_time: cron -----------------------------------------------------------------


def test_cron_in_utc() -> None:
    schedule = Schedule.parse("0 3 * * *")
    assert fires(schedule, utc(2026, 1, 1, 3), 2) == [utc(2026, 1, 2, 3), utc(2026, 1, 3, 3)]


def test_cron_fires_strictly_after() -> None:
    schedule = Schedule.parse("*/15 * * * *")
    assert schedule.next_fire_time(utc(2026, 1, 1, 0, 15)) == utc(2026, 1, 1, 0, 30)
    assert schedule.next_fire_time(utc(2026, 1, 1, 0, 14, 59, 999999)) == utc(2026, 1, 1, 0, 15)


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ("@hourly", utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 1)),
        ("@daily", utc(2026, 1, 1, 0, 30), utc(2026, 1, 2)),
        ("@weekly", utc(2026, 1, 1), utc(2026, 1, 4)),  # a Sunday
        ("@monthly", utc(2026, 1, 1), utc(2026, 2, 1)),
        ("@yearly", utc(2026, 1, 1), utc(2027, 1, 1)),
        ("0 0 29 2 *", utc(2026, 1, 1), utc(2028, 2, 29)),
        ("0 9 * * 1-5", utc(2026, 1, 2, 10), utc(2026, 1, 5, 9)),  # Friday -> Monday
        ("0 0 * * 7", utc(2026, 1, 1), utc(2026, 1, 4)),
        ("0 0 13 * 5", utc(2026, 1, 1), utc(2026, 1, 2)),  # day of month OR day of week
    ],
)
def test_cron_expressions(spec: str, after: datetime, expected: datetime) -> None:
    assert Schedule.parse(spec).next_fire_time(after) == expected


def test_cron_in_a_zone_follows_local_time() -> None:
    schedule = Schedule.parse("0 3 * * *", timezone="Asia/Kolkata")
    assert schedule.next_fire_time(utc(2026, 1, 1)) == utc(2026, 1, 1, 21, 30)


def test_cron_at_paris_spring_forward_fires_once_after_the_gap() -> None:
    schedule = Schedule.parse("30 2 * * *", timezone="Europe/Paris")
    assert local(fires(schedule, utc(2026, 3, 27, 12), 3), PARIS) == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_cron_at_paris_fall_back_fires_once() -> None:
    schedule = Schedule.parse("30 2 * * *", timezone="Europe/Paris")
    assert local(fires(schedule, utc(2026, 10, 24, 12), 2), PARIS) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_cron_at_new_york_spring_forward_fires_once_after_the_gap() -> None:
    schedule = Schedule.parse("30 2 * * *", timezone="America/New_York")
    assert local(fires(schedule, utc(2026, 3, 6, 12), 3), NEW_YORK) == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_cron_at_new_york_fall_back_fires_once() -> None:
    schedule = Schedule.parse("30 1 * * *", timezone="America/New_York")
    assert fires(schedule, utc(2026, 10, 31), 3) == [
        utc(2026, 10, 31, 5, 30),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 30),
    ]


def test_every_15_minutes_cron_through_the_paris_gap() -> None:
    schedule = Schedule.parse("*/15 * * * *", timezone="Europe/Paris")
    assert local(
        list(fires_between(schedule, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30))), PARIS
    ) == [
        "2026-03-29T01:45:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:15:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


def test_every_30_minutes_cron_pauses_in_the_new_york_overlap() -> None:
    schedule = Schedule.parse("*/30 * * * *", timezone="America/New_York")
    assert fires(schedule, utc(2026, 11, 1, 4), 6) == [
        utc(2026, 11, 1, 4, 30),
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 5, 30),
        # 01:00 and 01:30 EST (06:00Z and 06:30Z) were already passed as EDT
        utc(2026, 11, 1, 7),
        utc(2026, 11, 1, 7, 30),
        utc(2026, 11, 1, 8),
    ]


def test_hourly_cron_across_the_paris_fall_back() -> None:
    schedule = Schedule.parse("0 * * * *", timezone="Europe/Paris")
    assert local(fires(schedule, utc(2026, 10, 24, 22, 30), 4), PARIS) == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T04:00:00+01:00",
    ]


def test_hourly_cron_across_the_new_york_spring_forward() -> None:
    schedule = Schedule.parse("0 * * * *", timezone="America/New_York")
    assert local(fires(schedule, utc(2026, 3, 8, 5, 30), 3), NEW_YORK) == [
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
    ]


def test_cron_asked_during_the_second_pass_of_an_overlap() -> None:
    schedule = Schedule.parse("45 1 * * *", timezone="America/New_York")
    second_pass = utc(2026, 11, 1, 6, 15)  # 01:15 EST; 01:45 EDT has passed
    assert schedule.next_fire_time(second_pass) == utc(2026, 11, 2, 6, 45)


def test_cron_fires_a_time_only_once_even_with_minute_steps_in_the_gap() -> None:
    schedule = Schedule.parse("15,45 2 * * *", timezone="Europe/Paris")
    assert local(fires(schedule, utc(2026, 3, 28, 12), 2), PARIS) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:15:00+02:00",
    ]


def test_cron_respects_start_time() -> None:
    schedule = Schedule.parse("0 * * * *", start_time=utc(2026, 1, 1, 5, 0))
    assert schedule.next_fire_time(utc(2025, 1, 1)) == utc(2026, 1, 1, 5)
    later = Schedule.parse("0 * * * *", start_time=utc(2026, 1, 1, 5, 1))
    assert later.next_fire_time(utc(2025, 1, 1)) == utc(2026, 1, 1, 6)


def test_cron_respects_end_time() -> None:
    schedule = Schedule.parse("0 * * * *", end_time=utc(2026, 1, 1, 5))
    assert schedule.next_fire_time(utc(2026, 1, 1, 4, 30)) == utc(2026, 1, 1, 5)
    assert schedule.next_fire_time(utc(2026, 1, 1, 5)) is None


# -- due_fire_time ------------------------------------------------------------------------


def test_nothing_is_due_before_the_first_fire() -> None:
    schedule = Schedule.parse("0 3 * * *")
    created = utc(2026, 1, 1, 12)
    assert schedule.due_fire_time(None, utc(2026, 1, 2, 2, 59), anchor=created) is None


def test_a_fire_time_is_due_at_that_very_moment() -> None:
    schedule = Schedule.parse("0 3 * * *")
    created = utc(2026, 1, 1, 12)
    assert schedule.due_fire_time(None, utc(2026, 1, 2, 3), anchor=created) == utc(2026, 1, 2, 3)


def test_a_fire_time_is_due_once() -> None:
    schedule = Schedule.parse("0 3 * * *")
    created = utc(2026, 1, 1, 12)
    fired = utc(2026, 1, 2, 3)
    assert schedule.due_fire_time(fired, utc(2026, 1, 2, 3, 0, 1), anchor=created) is None
    assert schedule.due_fire_time(fired, utc(2026, 1, 3, 3), anchor=created) == utc(2026, 1, 3, 3)


def test_missed_fire_times_coalesce_into_the_latest() -> None:
    schedule = Schedule.parse("*/5 * * * *")
    created = utc(2026, 1, 1)
    last = utc(2026, 1, 1, 8, 0)
    # The agent was down from 08:02 until 17:33: one execution, for 17:30.
    assert schedule.due_fire_time(last, utc(2026, 1, 1, 17, 33), anchor=created) == utc(
        2026, 1, 1, 17, 30
    )


def test_every_minute_missed_for_months_is_quick() -> None:
    for spec in ("* * * * *", "every minute"):
        schedule = Schedule.parse(spec, timezone="Europe/Paris")
        began = time.perf_counter()
        due = schedule.due_fire_time(
            utc(2026, 1, 1), utc(2026, 9, 30, 23, 59, 30), anchor=utc(2026, 1, 1)
        )
        assert due == utc(2026, 9, 30, 23, 59)
        assert time.perf_counter() - began < 0.5


def test_a_new_cron_job_does_not_fire_for_a_time_before_it_existed() -> None:
    schedule = Schedule.parse("0 3 * * *")
    created = utc(2026, 1, 1, 15)
    assert schedule.due_fire_time(None, utc(2026, 1, 1, 15, 0, 5), anchor=created) is None
    assert schedule.due_fire_time(None, utc(2026, 1, 2, 3, 5), anchor=created) == utc(2026, 1, 2, 3)


def test_a_new_interval_job_with_a_past_start_waits_for_its_next_fire() -> None:
    schedule = Schedule.parse("every day", start_time=utc(2025, 1, 1, 3))
    created = utc(2026, 1, 1, 15)
    assert schedule.due_fire_time(None, utc(2026, 1, 1, 15, 1), anchor=created) is None
    assert schedule.due_fire_time(None, utc(2026, 1, 2, 3), anchor=created) == utc(2026, 1, 2, 3)


def test_a_new_interval_job_without_start_fires_when_created() -> None:
    schedule = Schedule.parse("every 10 minutes")
    created = utc(2026, 1, 1, 15, 3, 27)
    assert schedule.due_fire_time(None, created, anchor=created) == created
    assert schedule.due_fire_time(None, created - timedelta(seconds=1), anchor=created) is None
    assert schedule.due_fire_time(created, utc(2026, 1, 1, 15, 20), anchor=created) == utc(
        2026, 1, 1, 15, 13, 27
    )


def test_once_is_due_when_its_time_has_come() -> None:
    schedule = Schedule.parse("once", start_time=utc(2026, 6, 1))
    created = utc(2026, 1, 1)
    assert schedule.due_fire_time(None, utc(2026, 5, 31), anchor=created) is None
    assert schedule.due_fire_time(None, utc(2026, 6, 1), anchor=created) == utc(2026, 6, 1)
    assert schedule.due_fire_time(None, utc(2026, 7, 1), anchor=created) == utc(2026, 6, 1)
    assert schedule.due_fire_time(utc(2026, 6, 1), utc(2026, 7, 1), anchor=created) is None


def test_once_whose_time_passed_before_creation_still_runs_once() -> None:
    start = utc(2026, 6, 1, 12)
    schedule = Schedule.parse("once", start_time=start)
    created = start + timedelta(milliseconds=30)
    assert schedule.due_fire_time(None, created, anchor=created) == start
    assert schedule.due_fire_time(start, created, anchor=created) is None


def test_once_without_start_is_due_at_creation() -> None:
    created = utc(2026, 1, 1, 9)
    schedule = Schedule.parse("once")
    assert schedule.due_fire_time(None, created, anchor=created) == created


def test_due_respects_the_end_time() -> None:
    schedule = Schedule.parse("0 * * * *", end_time=utc(2026, 1, 1, 5, 30))
    created = utc(2026, 1, 1)
    assert schedule.due_fire_time(utc(2026, 1, 1, 3), utc(2026, 2, 1), anchor=created) == utc(
        2026, 1, 1, 5
    )
    assert schedule.due_fire_time(utc(2026, 1, 1, 5), utc(2026, 2, 1), anchor=created) is None


def test_due_respects_the_start_time() -> None:
    schedule = Schedule.parse("0 * * * *", start_time=utc(2026, 1, 1, 5, 30))
    created = utc(2025, 1, 1)
    assert schedule.due_fire_time(None, utc(2026, 1, 1, 5, 45), anchor=created) is None
    assert schedule.due_fire_time(None, utc(2026, 1, 1, 6, 45), anchor=created) == utc(
        2026, 1, 1, 6
    )


def test_due_in_the_second_pass_of_an_overlap() -> None:
    schedule = Schedule.parse("*/10 * * * *", timezone="America/New_York")
    created = utc(2026, 10, 1)
    # 06:35Z is 01:35 EST; every wall time up to 01:50 was passed as EDT (05:50Z).
    assert schedule.due_fire_time(None, utc(2026, 11, 1, 6, 35), anchor=created) == utc(
        2026, 11, 1, 5, 50
    )
    assert (
        schedule.due_fire_time(utc(2026, 11, 1, 5, 50), utc(2026, 11, 1, 6, 59), anchor=created)
        is None
    )
    assert schedule.due_fire_time(None, utc(2026, 11, 1, 7, 5), anchor=created) == utc(
        2026, 11, 1, 7
    )


def test_due_in_the_paris_gap() -> None:
    schedule = Schedule.parse("30 2 * * *", timezone="Europe/Paris")
    created = utc(2026, 3, 1)
    assert schedule.due_fire_time(None, utc(2026, 3, 29, 0, 59), anchor=created) == utc(
        2026, 3, 28, 1, 30
    )
    assert schedule.due_fire_time(None, utc(2026, 3, 29, 1, 0), anchor=created) == utc(
        2026, 3, 29, 1, 0
    )


def test_due_interval_days_across_dst() -> None:
    schedule = Schedule.parse(
        "every day", timezone="Europe/Paris", start_time=datetime(2026, 3, 20, 3, 0)
    )
    created = utc(2026, 3, 1)
    assert schedule.due_fire_time(None, utc(2026, 3, 29, 0, 59), anchor=created) == utc(
        2026, 3, 28, 2
    )
    assert schedule.due_fire_time(None, utc(2026, 3, 29, 1, 0), anchor=created) == utc(
        2026, 3, 29, 1
    )


def test_due_every_month() -> None:
    schedule = Schedule.parse("every month", start_time=utc(2026, 1, 31))
    created = utc(2026, 1, 1)
    assert schedule.due_fire_time(None, utc(2026, 3, 30), anchor=created) == utc(2026, 2, 28)
    assert schedule.due_fire_time(None, utc(2026, 3, 31), anchor=created) == utc(2026, 3, 31)
    assert schedule.due_fire_time(None, utc(2026, 1, 30), anchor=created) is None


# -- properties ---------------------------------------------------------------------------

DST_2026 = [
    utc(2026, 3, 8, 7),  # New York springs forward
    utc(2026, 3, 29, 1),  # Paris springs forward
    utc(2026, 10, 25, 1),  # Paris falls back
    utc(2026, 11, 1, 6),  # New York falls back
]
near_dst = st.builds(
    lambda change, minutes, seconds: change + timedelta(minutes=minutes, seconds=seconds),
    st.sampled_from(DST_2026),
    st.integers(min_value=-48 * 60, max_value=48 * 60),
    st.integers(min_value=0, max_value=59),
)
anywhen = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)
instants = st.one_of(near_dst, anywhen)
property_zones = st.sampled_from(
    ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
)
crons = st.builds(
    "{} {} {} * {}".format,
    st.sampled_from(["0", "30", "*/15", "5,45", "*", "59"]),
    st.sampled_from(["*", "2", "1", "1-3", "*/6", "0"]),
    st.sampled_from(["*", "1", "15", "28"]),
    st.sampled_from(["*", "0", "1-5"]),
)
intervals = st.builds(
    "every {} {}".format,
    st.integers(min_value=1, max_value=40),
    st.sampled_from(["minutes", "hours", "days", "weeks", "months"]),
)
starts = st.one_of(st.none(), near_dst, anywhen)


@settings(deadline=None, max_examples=300)
@given(st.one_of(crons, intervals, st.just("once")), property_zones, starts, instants)
def test_next_and_due_agree(spec: str, zone: str, start: datetime | None, now: datetime) -> None:
    schedule = Schedule.parse(spec, timezone=zone, start_time=start)
    anchor = EPOCH if start is None else start
    due = schedule.due_fire_time(None, now, anchor=anchor)
    following = schedule.next_fire_time(now, anchor=anchor)
    if following is not None:
        assert following > now
        assert following.tzinfo is UTC
        # Nothing fires between `now` and the next fire time.
        assert (
            schedule.due_fire_time(now, following - timedelta(microseconds=1), anchor=anchor)
            is None
        )
        assert schedule.due_fire_time(now, following, anchor=anchor) == following
    if due is not None:
        assert due <= now
        assert due.tzinfo is UTC
        assert schedule.next_fire_time(due - timedelta(microseconds=1), anchor=anchor) == due
        # `due` was the latest: the one after it is still to come.
        after_due = schedule.next_fire_time(due, anchor=anchor)
        assert after_due is None or after_due > now


@settings(deadline=None)
@given(crons, property_zones, near_dst)
def test_cron_fires_each_wall_time_at_most_once(spec: str, zone: str, start: datetime) -> None:
    schedule = Schedule.parse(spec, timezone=zone)
    seen = fires(schedule, start, 20)
    walls = [fire.astimezone(ZoneInfo(zone)).replace(tzinfo=None) for fire in seen]
    assert seen == sorted(set(seen))
    assert len(set(walls)) == len(walls)


@settings(deadline=None)
@given(
    st.integers(min_value=1, max_value=40),
    st.sampled_from(["minutes", "hours"]),
    anywhen,
    instants,
)
def test_minutes_and_hours_are_exact_multiples(
    count: int, unit: str, start: datetime, after: datetime
) -> None:
    schedule = Schedule.parse(f"every {count} {unit}", start_time=start)
    fire = schedule.next_fire_time(after)
    assert fire is not None
    step = timedelta(**{unit: count})
    assert (fire - start) % step == timedelta(0)
    assert fire - step <= after < fire or (after < start and fire == start)


@settings(deadline=None)
@given(
    st.integers(min_value=1, max_value=3),
    st.sampled_from(["days", "weeks"]),
    st.sampled_from(["Europe/Paris", "America/New_York"]),
    st.integers(min_value=4, max_value=22),
    near_dst,
)
def test_days_keep_the_local_time_of_day(
    count: int, unit: str, zone: str, hour: int, after: datetime
) -> None:
    start = datetime(2026, 1, 2, hour, 17)
    schedule = Schedule.parse(f"every {count} {unit}", timezone=zone, start_time=start)
    fire = schedule.next_fire_time(after)
    assert fire is not None
    wall = fire.astimezone(ZoneInfo(zone))
    assert (wall.hour, wall.minute) == (hour, 17)
    days = count * (7 if unit == "weeks" else 1)
    assert (wall.date() - start.date()).days % days == 0


@settings(deadline=None)
@given(
    st.integers(min_value=1, max_value=12),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    st.integers(min_value=0, max_value=400),
)
def test_months_land_on_the_start_day_or_the_month_end(
    count: int, start: datetime, steps: int
) -> None:
    schedule = Schedule.parse(f"every {count} months", start_time=start)
    fires_found = fires(schedule, start.replace(tzinfo=UTC) + timedelta(days=steps * 10), 1)
    assert fires_found
    fire = fires_found[0]
    months = (fire.year - start.year) * 12 + fire.month - start.month
    assert months % count == 0
    last_day = (fire.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    assert fire.day == min(start.day, last_day.day)
    assert fire.time() == start.time()
