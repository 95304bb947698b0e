"""Hypothesis strategies that make only bad values, each from the limit it breaks.

Every strategy is built from `sqlfleet.limits`, so the suite follows the limits wherever they
move. A value drawn here is never valid, so any command that takes it must refuse it.
"""

from __future__ import annotations

import math
from datetime import datetime

from hypothesis import strategies as st

from sqlfleet import limits
from sqlfleet.script import VARIABLES

# Text a name could otherwise hold: no '/', no control characters, no surrogates.
_PLAIN = st.characters(
    codec="utf-8", exclude_characters="/", exclude_categories=("Cc", "Cs", "Zl", "Zp")
)
_GOOD_NAME = st.text(_PLAIN, min_size=1, max_size=12).filter(
    lambda s: s == s.strip() and s not in (".", "..") and bool(s.strip())
)
_NOT_UTF8 = st.sampled_from(["\udce9", "\udcff", "\ud800", "\udfff"])
# A password in a bad URL: no message may show it (the tables of listed cases use it).
URL_PASSWORD = "S3cret-in-a-URL"
_CONTROL = st.sampled_from(["\x00", "\x01", "\n", "\r", "\t", "\x1b", "\x7f"])


def _with(text: st.SearchStrategy[str], poison: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """`text` with `poison` put at some place in it."""

    def put(draw: st.DrawFn) -> str:
        value = draw(text)
        at = draw(st.integers(0, len(value)))
        return value[:at] + draw(poison) + value[at:]

    return st.composite(put)()


def too_long(limit: limits.Text) -> st.SearchStrategy[str]:
    """Text one to a few dozen characters past the limit (plain, else it would fail anyway)."""
    return st.integers(1, 40).map(lambda extra: "a" * (limit.max_length + extra))


def bad_text(limit: limits.Text, *, newline_ok: bool = False) -> st.SearchStrategy[str]:
    """Text the limit refuses: too long, not UTF-8, a NUL, control characters, or blank."""
    plain = st.text(_PLAIN, min_size=0, max_size=20)
    options = [too_long(limit), _with(plain, _NOT_UTF8), _with(plain, st.just("\x00"))]
    if limit.single_line:
        poison = _CONTROL if not newline_ok else _CONTROL.filter(lambda c: c not in "\r\n")
        options.append(_with(plain, poison))
    if limit.min_length:
        options.append(st.sampled_from(["", " ", "   ", "\u3000"]))
    return st.one_of(options)


def bad_names() -> st.SearchStrategy[str]:
    """Names no door takes: too long, '.', '..', '/', control characters, spaces, not UTF-8."""
    return st.one_of(
        st.sampled_from(["", " ", ".", ".."]),
        st.text(_PLAIN, min_size=limits.MAX_NAME + 1, max_size=limits.MAX_NAME + 60),
        _with(_GOOD_NAME, st.sampled_from(["/", "\x00", "\n", "\x7f", "\t"])),
        _with(_GOOD_NAME, _NOT_UTF8),
        _GOOD_NAME.map(lambda s: " " + s),
        _GOOD_NAME.map(lambda s: s + " "),
    )


def bad_urls() -> st.SearchStrategy[str]:
    """Server URLs no door takes: too long for the column, not UTF-8, NUL, or malformed."""
    host = st.integers(limits.MAX_URL - 10, limits.MAX_URL + 1000).map(
        lambda n: "postgresql://" + "h" * n + ":5432"
    )
    return st.one_of(
        host,
        _with(st.just("postgresql://db1:5432"), st.sampled_from(["\x00", "\udce9", "\n"])),
        st.sampled_from(["", "db1", "ftp://h", "postgresql://u:pw@h", "postgresql://h:99999999"]),
    )


def bad_ints(limit: limits.Number) -> st.SearchStrategy[int]:
    """Whole numbers outside the limit, up to sizes no database stores."""
    low, high = int(limit.low), int(limit.high)
    return st.one_of(
        st.sampled_from([low - 1, high + 1, 2**31, 2**63, 99999999999999999999]).filter(
            lambda n: not low <= n <= high
        ),
        st.integers(max_value=low - 1, min_value=low - 10**30),
        st.integers(min_value=high + 1, max_value=10**30),
    )


def bad_floats(limit: limits.Number) -> st.SearchStrategy[float]:
    """Numbers outside the limit, and nan and the infinities."""
    return st.one_of(
        st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308]),
        st.floats(min_value=limit.high, exclude_min=True),
        st.floats(max_value=limit.low, exclude_max=True),
    )


def bad_numbers(limit: limits.Number) -> st.SearchStrategy[float]:
    """What a number setting refuses, as a number."""
    return bad_ints(limit) if limit.whole else bad_floats(limit)


def bad_number_args(limit: limits.Number) -> st.SearchStrategy[str]:
    """What a number option refuses, as typed on a command line."""
    junk = st.sampled_from(["", "abc", "1e3x", "--", "0x10"])
    if limit.whole:
        junk = st.one_of(junk, st.sampled_from(["1.5", "nan", "inf", "1e3"]))
    return st.one_of(bad_numbers(limit).map(repr), junk)


def bad_times() -> st.SearchStrategy[str]:
    """ISO-8601 times out of the years a schedule may name (or not times at all)."""
    late = st.datetimes(min_value=datetime(limits.MAX_TIME.year, 1, 1))
    early = st.datetimes(max_value=datetime(limits.MIN_TIME.year - 1, 12, 31))
    offset = st.sampled_from(["", "+14:00", "-12:00", "Z"])
    return st.one_of(
        st.tuples(st.one_of(late, early), offset).map(lambda p: p[0].isoformat() + p[1]),
        st.sampled_from(["", "tomorrow", "9999-12-31T23:59:59-12:00", "2026-13-01"]),
    )


def bad_schedules() -> st.SearchStrategy[str]:
    """Schedules no door takes: cron expressions too long to store, NUL, garbage."""
    long_cron = st.lists(st.integers(0, 59), min_size=70, max_size=120).map(
        lambda minutes: ",".join(map(str, minutes)) + " * * * *"
    )
    return st.one_of(
        long_cron,
        _with(st.just("0 3 * * *"), st.sampled_from(["\x00", "\udce9"])),
        st.sampled_from(["61 * * * *", "every 0 minutes", "every 99999999999999999999 days"]),
        st.sampled_from(["sometimes", "every -2 days", "* * * * * * * *", ""]),
    )


def bad_timezones() -> st.SearchStrategy[str]:
    """Time zones no door takes."""
    return st.one_of(
        st.sampled_from(["", " ", "Mars/Base", "../etc", "UTC\x00", "Europe", "\udce9"]),
        st.integers(limits.MAX_TIMEZONE + 1, 200).map(lambda n: "A" * n),
    )


def bad_scripts() -> st.SearchStrategy[str]:
    """Scripts no door takes: empty, only GO, NUL, not UTF-8, longer than the cap."""
    return st.one_of(
        st.sampled_from(["", "   ", "GO", "\nGO\n"]),
        _with(st.just("SELECT 1"), st.sampled_from(["\x00", "\udce9", "\ud800"])),
        st.integers(1, 3).map(lambda n: "-" * (limits.MAX_SCRIPT + n)),
    )


def bad_lifecycles() -> st.SearchStrategy[str]:
    """Lifecycle state names that are none."""
    return st.one_of(
        st.sampled_from(["", "Done", "Succeeded\x00", "InProgress "]), _with(_GOOD_NAME, _NOT_UTF8)
    )


_GOOD_VARIABLE_NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: s not in VARIABLES and s not in ("database", "server", "schema")
)


def bad_variable_names() -> st.SearchStrategy[str]:
    """Names no target variable takes: not an identifier, built-in, too long, not UTF-8."""
    return st.one_of(
        st.sampled_from(["", "9lives", "a-b", "a.b", "é", "Database", "server", "SCHEMA"]),
        st.sampled_from(VARIABLES),
        st.integers(1, 40).map(lambda n: "v" * (limits.MAX_VARIABLE_NAME + n)),
        _with(
            _GOOD_VARIABLE_NAME,
            st.sampled_from([" ", "-", "$", "(", ")", ":", "\x00", "\n", "\udce9", "日"]),
        ),
    )


def bad_variable_values() -> st.SearchStrategy[str]:
    """Values no target variable takes: too long, a NUL, not UTF-8."""
    plain = st.text(_PLAIN, min_size=0, max_size=20)
    return st.one_of(
        st.integers(1, 40).map(lambda n: "x" * (limits.MAX_VARIABLE_VALUE + n)),
        _with(plain, st.just("\x00")),
        _with(plain, _NOT_UTF8),
    )


def bad_assignments() -> st.SearchStrategy[str]:
    """`--var` values no door takes: no `=`, or a bad name or value."""
    return st.one_of(
        st.sampled_from(["", "plan", "plan gold"]),
        bad_variable_names().map(lambda name: name + "=gold"),
        bad_variable_values().map(lambda value: "plan=" + value),
    )


def bad_webhook_urls() -> st.SearchStrategy[str]:
    """Webhook URLs no door takes, each holding a token that no message may show."""
    token = URL_PASSWORD
    good = f"https://hooks.example.com/services/{token}"
    return st.one_of(
        st.integers(1, 40).map(lambda n: good + "x" * (limits.MAX_URL - len(good) + n)),
        _with(st.just(good), st.sampled_from(["\x00", "\udce9", "\n", "\t", "\x7f", " "])),
        st.sampled_from(
            [
                "",
                " ",
                f"ftp://h/{token}",
                f"hooks.example.com/{token}",
                f"https:///{token}",
                f"https://h:99999/{token}",
                f"https://h:0/{token}",
                f"https://h:abc/{token}",
                f"javascript:{token}",
                f"https://[::1/{token}",
                f"file:///etc/{token}",
            ]
        ),
    )


def bad_web_urls() -> st.SearchStrategy[str]:
    """Base addresses of the web UI no door takes (links in notifications)."""
    return st.one_of(
        st.sampled_from(
            [
                "",
                " ",
                "ftp://h",
                "http://",
                "h:8080",
                "http://u:pw@h",
                "https://h/?q=1",
                "http://h#x",
            ]
        ),
        _with(st.just("https://sqlfleet.example.com"), st.sampled_from(["\x00", "\n", "\udce9"])),
        st.integers(1, 20).map(lambda n: "https://h/" + "p" * (limits.MAX_URL + n)),
    )
