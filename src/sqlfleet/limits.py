"""Every setting's limits, written once, for every door: CLI, REST API, web forms, Python API.

A limit here is what both job databases can store (PostgreSQL's `integer` is 32 bits, its
`varchar(n)` counts characters, its text takes no NUL) and what the engine can use (a
deadline must stay inside `datetime`'s range). The CLI takes its option help and checks from
here, the API schemas their bounds, and `Fleet` its checks, so all of them accept and refuse
exactly the same values, with a one-line message that names the setting and its range.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlfleet.errors import InvalidValue

INT32_MAX = 2_147_483_647  # PostgreSQL `integer`; SQLite stores 64 bits

# Text lengths, in characters; they match the columns in store/tables.py.
MAX_NAME = 128
MAX_URL = 1024
MAX_TIMEZONE = 64
MAX_TEXT = 10_000
MAX_SCRIPT = 1_000_000
MAX_STEPS = 100
# Per-target variables (a database member's --var, a shard map's extra columns): how many a
# target may carry, how long a name and a value may be. A name fits every engine's column
# names (PostgreSQL's are at most 63 bytes); a value is any text a catalog column holds.
MAX_VARIABLES = 64
MAX_VARIABLE_NAME = 63
MAX_VARIABLE_VALUE = 4000

# Times a schedule may name: far enough from datetime's year 1 and 9999 that moving them
# by a time zone offset or a calendar interval cannot overflow.
MIN_TIME = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(9000, 1, 1, tzinfo=UTC)

# Names appear in URL paths: a slash would split them, `.` and `..` are dot segments that
# browsers resolve away, and control characters are never names. No look-ahead: the API's
# pattern is also run by pydantic's regex engine, which has none.
_NAME_CHAR = r"[^/\x00-\x1f\x7f]"
_NAME_START = r"[^/\x00-\x1f\x7f.]"
NAME_PATTERN = rf"^(?:{_NAME_START}|\.{_NAME_START}|\.\.{_NAME_CHAR}){_NAME_CHAR}*$"
_NAME = re.compile(NAME_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(value: object) -> str:
    """A value for an error message: short, one line, printable even when not UTF-8."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number_text(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else f"{value:.0f}"


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric setting: its name, whole or not, range, unit, default and help."""

    name: str
    whole: bool
    low: float
    high: float
    help: str
    unit: str = ""
    default: float | None = None

    @property
    def range_text(self) -> str:
        """`1 to 2147483647 seconds`."""
        unit = f" {self.unit}" if self.unit else ""
        return f"{_number_text(self.low)} to {_number_text(self.high)}{unit}"

    @property
    def help_text(self) -> str:
        """The help line with the range and the default, for the CLI and the API schema."""
        default = "" if self.default is None else f"; default {_number_text(self.default)}"
        return f"{self.help} ({self.range_text}{default})."

    def check(self, value: object, *, label: str | None = None) -> Any:
        """`value` as an int (or a float) if it is in range; else InvalidValue naming `label`."""
        label = label or self.name
        number: int | float
        if isinstance(value, bool):
            raise InvalidValue(f"{label} must be a number, not {shown(value)}")
        if isinstance(value, str):
            try:
                number = int(value) if self.whole else float(value)
            except ValueError:
                kind = "a whole number" if self.whole else "a number"
                raise InvalidValue(f"{label} must be {kind}, not {shown(value)}") from None
        elif isinstance(value, int) or (isinstance(value, float) and not self.whole):
            number = value
        else:
            kind = "a whole number" if self.whole else "a number"
            raise InvalidValue(f"{label} must be {kind}, not {shown(value)}")
        if isinstance(number, float) and not math.isfinite(number):
            raise InvalidValue(f"{label} must be a finite number ({self.range_text}), not {number}")
        if not self.low <= number <= self.high:
            raise InvalidValue(f"{label} must be {self.range_text}, not {shown(number)}")
        return number


@dataclass(frozen=True, slots=True)
class Text:
    """A text setting: its name, length limits and what it may hold."""

    name: str
    max_length: int
    help: str
    min_length: int = 1
    single_line: bool = True  # no control characters at all (names, URLs, identifiers)
    quoted: bool = True  # False: messages never show the value (a URL may hold a password)

    def check(self, value: object, *, label: str | None = None) -> str:
        """`value` if it is storable text within the limits; else InvalidValue."""
        label = label or self.name
        if not isinstance(value, str):
            raise InvalidValue(f"the {label} must be text, not {shown(value)}")
        check_storable(label, value)
        if self.min_length and not value.strip():
            raise InvalidValue(f"the {label} is empty")
        if len(value) > self.max_length:
            raise InvalidValue(f"the {label} is longer than {self.max_length:,} characters")
        if self.single_line and _CONTROL.search(value):
            which = f" {shown(value)}" if self.quoted else ""
            raise InvalidValue(f"the {label}{which} contains control characters")
        return value


def check_storable(label: str, value: str) -> str:
    """`value` if both job databases can store it: valid UTF-8 (no lone surrogates), no NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Python hands non-UTF-8 bytes from arguments and files over as lone surrogates.
        raise InvalidValue(f"the {label} is not valid UTF-8 text") from None
    if "\x00" in value:
        raise InvalidValue(f"the {label} contains a NUL character")
    return value


def check_name(what: str, name: object) -> str:
    """A name of a job, step, credential or target group: it must fit in a URL path."""
    name = NAME.check(name, label=f"{what} name")
    if name != name.strip():
        raise InvalidValue(f"the {what} name {shown(name)} starts or ends with spaces")
    if name in (".", ".."):
        raise InvalidValue(f"the {what} name {name!r} is not allowed: URLs cannot hold it")
    if not _NAME.match(name):
        raise InvalidValue(f"the {what} name {shown(name)} contains '/', which URLs cannot hold")
    return name


def check_share(label: str, value: object) -> str:
    """A share of a step's targets, `N` (1 or more) or `P%` (1 to 100), in its stored form."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidValue(f"{label} must be N or P%, not {shown(value)}")
    match = re.fullmatch(r"\s*(\d{1,9})\s*(%?)\s*", value)
    if match is None:
        raise InvalidValue(
            f"{label} must be a number of targets (N) or a percentage (P%), not {shown(value)}"
        )
    number, percent = int(match[1]), match[2]
    if percent and not 1 <= number <= 100:
        raise InvalidValue(f"{label} must be a percentage from 1% to 100%, not {number}%")
    if not percent and number < 1:
        raise InvalidValue(f"{label} must be at least 1, not {number}")
    return f"{number}{percent}"


def check_time(label: str, moment: datetime) -> datetime:
    """`moment` if it lies in the years a schedule may name (naive times taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    low, high = MIN_TIME.replace(tzinfo=None), MAX_TIME.replace(tzinfo=None)
    # Compared as wall-clock times: converting a time near year 9999 could itself overflow.
    if not low <= aware.replace(tzinfo=None) < high:
        raise InvalidValue(
            f"the {label} {moment.isoformat()} is out of range: use a time from "
            f"{MIN_TIME.year} to {MAX_TIME.year - 1}"
        )
    return moment


# -- text ---------------------------------------------------------------------------------

NAME = Text("name", MAX_NAME, "A name: up to 128 characters, no '/', not '.' or '..'")
USERNAME = Text("user name", MAX_NAME, "User name on the target servers")
SERVER_URL = Text(
    "server URL", MAX_URL, "postgresql://host:port, mysql://host:port, ...", quoted=False
)
IDENTIFIER = Text("identifier", MAX_NAME, "A database, schema or table name")
PATTERN = Text("pattern", MAX_NAME, "A glob, such as tenant_*")
DESCRIPTION = Text("description", MAX_TEXT, "What the job is for", min_length=0, single_line=False)
SCRIPT = Text("command", MAX_SCRIPT, "SQL script", single_line=False)
# A login may have no password (trust or socket authentication, a local MariaDB root).
SECRET = Text("secret", MAX_TEXT, "A password", min_length=0, single_line=False)
SCHEDULE_SPEC = Text(
    "schedule",
    MAX_TEXT,  # what is stored of it (a cron expression) has its own, shorter limit
    "once | every N minutes | a cron expression",
    min_length=0,  # Schedule.parse says what an empty one lacks
    single_line=False,
)
TIMEZONE = Text("time zone", MAX_TIMEZONE, "IANA time zone")
SEARCH = Text("search", MAX_NAME, "Part of a server, database or schema name")
# Webhooks (see sqlfleet.webhooks). Their URL is a secret too: an incoming-webhook URL
# (Slack, Teams) carries its token in its path, so messages never quote it.
WEBHOOK_URL = Text("webhook URL", MAX_URL, "An http(s) URL that receives a JSON POST", quoted=False)
NOTIFY_SECRET = Text(
    "notify secret", MAX_NAME * 4, "Key of the HMAC-SHA256 signature header", quoted=False
)
MAX_WEBHOOKS = 10  # per job
NOTIFY_ON_CHOICES = ("failure", "always")

# -- numbers ------------------------------------------------------------------------------

ID = Number("id", True, 1, INT32_MAX, "An id")
VERSION = Number("version", True, 1, INT32_MAX, "A job version")
COUNT = Number("count", True, 1, 10_000, "At most this many")
OFFSET = Number("offset", True, 0, INT32_MAX, "Skip this many first")
CONCURRENCY = Number("concurrency", True, 1, 100_000, "Target connections at a time", default=100)
PORT = Number("port", True, 0, 65_535, "Port to listen on, 0 for any free port")
DEMO_DATABASES = Number("databases", True, 1, 10_000, "Databases in the demo fleet", default=12)
RETENTION_DAYS = Number(
    "retention days", False, 0, 36_500, "Purge history older than this", unit="days", default=45
)
OLDER_THAN_DAYS = Number(
    "older-than", False, 0, 36_500, "Purge executions older than this", unit="days", default=45
)
GRACE_PERIOD = Number(
    "grace period",
    False,
    0,
    86_400,
    "On SIGTERM, time for running targets to finish",
    unit="seconds",
    default=30,
)
LEASE_SECONDS = Number(
    "lease seconds",
    False,
    1,
    86_400,
    "How long a claim lasts without a heartbeat",
    unit="seconds",
    default=60,
)


# -- step settings: one table -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepSetting:
    """One setting of a step: its field name (Python and REST APIs), CLI flag, and limits."""

    field: str
    flag: str
    limit: Number | Text | None  # None: a flag (bool)
    metavar: str = ""
    help: str = ""  # what the setting is for, when its limit's help does not say

    @property
    def help_text(self) -> str:
        """The CLI option's help and the API field's description."""
        if isinstance(self.limit, Number):
            return self.limit.help_text
        if isinstance(self.limit, Text):
            return f"{self.help} (up to {self.limit.max_length:,} characters)."
        return f"{self.help}."

    def check(self, value: object) -> Any:
        """`value` if it is valid for this setting; else InvalidValue naming the field."""
        if self.limit is None:
            if not isinstance(value, bool):
                raise InvalidValue(f"{self.field} must be true or false, not {shown(value)}")
            return value
        if isinstance(self.limit, Text) and self.limit is NAME:
            return check_name(self.field.replace("_", " "), value)
        if self.limit is SHARE:
            return check_share(self.field, value)
        if self.limit is RETRY_ON:
            text = RETRY_ON.check(value, label=self.field)
            if text not in RETRY_ON_CHOICES:
                raise InvalidValue(f"retry_on must be 'all' or 'transient', not {shown(value)}")
            return text
        return self.limit.check(value, label=self.field)


def _seconds(name: str, low: float, high: float, text: str, default: float, whole: bool) -> Number:
    return Number(name, whole, low, high, text, unit="seconds", default=default)


# Defaults as in Elastic Jobs; StepSettings and RetryPolicy take theirs from here.
DEFAULT_RETRY_ATTEMPTS = 10
DEFAULT_INITIAL_RETRY_INTERVAL = 1.0
DEFAULT_MAXIMUM_RETRY_INTERVAL = 120.0
DEFAULT_BACKOFF_MULTIPLIER = 2.0
DEFAULT_STEP_TIMEOUT = 43_200
DEFAULT_CONNECT_TIMEOUT = 30
DEFAULT_RESULT_ROWS = 1000

RETRY_ATTEMPTS = Number(
    "retry_attempts",
    True,
    0,
    1_000_000,
    "Retries after the first attempt",
    default=DEFAULT_RETRY_ATTEMPTS,
)
INITIAL_RETRY_INTERVAL = _seconds(
    "initial_retry_interval_seconds",
    0,
    31_536_000,
    "Wait before the first retry",
    DEFAULT_INITIAL_RETRY_INTERVAL,
    False,
)
MAXIMUM_RETRY_INTERVAL = _seconds(
    "maximum_retry_interval_seconds",
    0,
    31_536_000,
    "Longest wait between retries",
    DEFAULT_MAXIMUM_RETRY_INTERVAL,
    False,
)
BACKOFF_MULTIPLIER = Number(
    "retry_interval_backoff_multiplier",
    False,
    1,
    1000,
    "Each wait is this times the last",
    default=DEFAULT_BACKOFF_MULTIPLIER,
)
STEP_TIMEOUT = _seconds(
    "step_timeout_seconds",
    1,
    INT32_MAX,
    "Step timeout per target, all attempts",
    DEFAULT_STEP_TIMEOUT,
    True,
)
CONNECT_TIMEOUT = _seconds(
    "connect_timeout_seconds",
    1,
    INT32_MAX,
    "Timeout of each connection",
    DEFAULT_CONNECT_TIMEOUT,
    True,
)
MAX_PARALLELISM = Number(
    "max_parallelism", True, 0, INT32_MAX, "Databases per server at a time, 0 for no limit"
)
# Kept rows live in the job database, one JSON document per target: the cap keeps a
# 10,000-target execution's results within what a job database holds comfortably.
RESULT_ROWS = Number(
    "result_rows",
    True,
    0,
    100_000,
    "Rows of each target's first result set kept in the job database, 0 for none",
    default=DEFAULT_RESULT_ROWS,
)

CANARY = Number(
    "canary", True, 0, INT32_MAX, "Run this many targets first; all must succeed, 0 for none"
)
WAVE_PAUSE = _seconds(
    "wave_pause_seconds", 0, 31_536_000, "Wait between waves of a rollout", 0.0, False
)
# A share of a step's targets: a count ("20") or a percentage ("25%").
SHARE = Text("share", 16, "N targets or P% of them")
WAVE_SIZE = "wave_size"
MAX_FAILURES = "max_failures"
RETRY_ON = Text("retry_on", 16, "Which errors are retried")
RETRY_ON_CHOICES = ("all", "transient")

STEP_SETTINGS: tuple[StepSetting, ...] = (
    StepSetting("command", "--command", SCRIPT, "SQL", "The script to run"),
    StepSetting("target_group", "--target-group", NAME, "G", "The target group it runs on"),
    StepSetting("credential", "--credential", NAME, "C", "The credential it connects with"),
    StepSetting("retry_attempts", "--retry-attempts", RETRY_ATTEMPTS, "N"),
    StepSetting(
        "initial_retry_interval_seconds", "--initial-retry-interval", INITIAL_RETRY_INTERVAL, "S"
    ),
    StepSetting(
        "maximum_retry_interval_seconds", "--maximum-retry-interval", MAXIMUM_RETRY_INTERVAL, "S"
    ),
    StepSetting(
        "retry_interval_backoff_multiplier", "--backoff-multiplier", BACKOFF_MULTIPLIER, "F"
    ),
    StepSetting("step_timeout_seconds", "--timeout", STEP_TIMEOUT, "S"),
    StepSetting("connect_timeout_seconds", "--connect-timeout", CONNECT_TIMEOUT, "S"),
    StepSetting("max_parallelism", "--max-parallelism", MAX_PARALLELISM, "N"),
    StepSetting("result_rows", "--result-rows", RESULT_ROWS, "N"),
    StepSetting(
        "continue_on_failure",
        "--continue-on-failure",
        None,
        help="Run the later steps even if this one fails",
    ),
    StepSetting("canary", "--canary", CANARY, "N"),
    StepSetting(
        WAVE_SIZE,
        "--wave-size",
        SHARE,
        "N|P%",
        "After the canary, start targets in waves of N targets or P% of them, each wave when "
        "the previous one ended",
    ),
    StepSetting("wave_pause_seconds", "--wave-pause", WAVE_PAUSE, "S"),
    StepSetting(
        MAX_FAILURES,
        "--max-failures",
        SHARE,
        "N|P%",
        "Failure budget: once N targets (or P% of them) failed, no new target starts and the "
        "step ends Failed",
    ),
    StepSetting(
        "retry_on",
        "--retry-on",
        RETRY_ON,
        "all|transient",
        "Retry every error (all), or only those that may pass on their own: lost "
        "connections, deadlocks, lock timeouts (transient)",
    ),
    StepSetting(
        "allow_database_switch",
        "--allow-database-switch",
        None,
        help=(
            "Let a MySQL/MariaDB script USE, CREATE or DROP a database: every target would "
            "then work on that same database"
        ),
    ),
    StepSetting(
        "fresh_connection",
        "--fresh-connection",
        None,
        help=(
            "Open a new connection for each target, instead of one that serves several "
            "MySQL/MariaDB databases or PostgreSQL schemas of a server in turn, reset between "
            "them"
        ),
    ),
)
STEP_SETTING = {s.field: s for s in STEP_SETTINGS}
NUMBER_SETTINGS = tuple(s for s in STEP_SETTINGS if isinstance(s.limit, Number))
