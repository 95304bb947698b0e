"""Every command-line command and option, fed bad values: one clean line, exit 2, no change.

Each slot is one place in one command where a value goes; Hypothesis draws bad values for it
from the limit it must enforce (tests/robustness/bad.py). The listed cases from the issue
tracker are in an explicit table below, and the boundaries come from `sqlfleet.limits`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlfleet import limits
from tests.robustness import bad
from tests.robustness.conftest import PASSWORD_ENV, Cli, Seeded, assert_refused

EXAMPLES = 5
Args = Callable[[str], list[str]]

STEP = ["--name", "s2", "--target-group", "g", "--credential", "pg", "--command", "SELECT 1"]
OUTPUT = {
    "--output-server": "postgresql://127.0.0.1:5432",
    "--output-database": "d",
    "--output-table": "t",
    "--output-credential": "pg",
}


def _output(flag: str) -> Args:
    """update-step with a whole output destination, `flag` taking the bad value."""

    def args(value: str) -> list[str]:
        given = [item for f, v in OUTPUT.items() if f != flag for item in (f, v)]
        return ["job", "update-step", "j", "s", *given, flag, value]

    return args


SLOTS: dict[str, tuple[Args, st.SearchStrategy[str]]] = {
    # credentials
    "credential add NAME": (
        lambda v: ["credential", "add", v, "--username", "u", "--password-env", PASSWORD_ENV],
        bad.bad_names(),
    ),
    "credential add --username": (
        lambda v: ["credential", "add", "c2", "--username", v, "--password-env", PASSWORD_ENV],
        bad.bad_text(limits.USERNAME),
    ),
    "credential update NAME": (
        lambda v: ["credential", "update", v, "--username", "u"],
        bad.bad_names(),
    ),
    "credential update --username": (
        lambda v: ["credential", "update", "pg", "--username", v],
        bad.bad_text(limits.USERNAME),
    ),
    "credential remove NAME": (lambda v: ["credential", "remove", v], bad.bad_names()),
    # target groups
    "target-group add NAME": (lambda v: ["target-group", "add", v], bad.bad_names()),
    "target-group show NAME": (lambda v: ["target-group", "show", v], bad.bad_names()),
    "target-group remove NAME": (lambda v: ["target-group", "remove", v], bad.bad_names()),
    "target-group resolve NAME": (lambda v: ["target-group", "resolve", v], bad.bad_names()),
    "target-group add-member --server": (
        lambda v: ["target-group", "add-member", "g", "--server", v],
        bad.bad_urls(),
    ),
    "target-group add-member --database": (
        lambda v: [
            "target-group",
            "add-member",
            "g",
            "--server",
            "postgresql://h",
            "--database",
            v,
        ],
        bad.bad_text(limits.IDENTIFIER),
    ),
    "target-group add-member --database-pattern": (
        lambda v: [
            "target-group",
            "add-member",
            "g",
            "--server",
            "postgresql://h",
            "--database-pattern",
            v,
        ],
        bad.bad_text(limits.PATTERN),
    ),
    "target-group add-member --schema-pattern": (
        lambda v: [
            "target-group",
            "add-member",
            "g",
            "--server",
            "postgresql://h",
            "--database",
            "d",
            "--schema-pattern",
            v,
        ],
        bad.bad_text(limits.PATTERN),
    ),
    "target-group add-member --shard-map-query": (
        lambda v: [
            "target-group",
            "add-member",
            "g",
            "--server",
            "postgresql://h",
            "--database",
            "d",
            "--shard-map-query",
            v,
        ],
        bad.bad_scripts(),
    ),
    "target-group add-member --refresh-credential": (
        lambda v: [
            "target-group",
            "add-member",
            "g",
            "--server",
            "postgresql://h",
            "--refresh-credential",
            v,
        ],
        bad.bad_names(),
    ),
    "target-group add-member --var": (
        lambda v: [
            "target-group",
            "add-member",
            "g",
            "--server",
            "postgresql://h",
            "--database",
            "d",
            "--var",
            "tier=1",
            "--var",
            v,
        ],
        bad.bad_assignments(),
    ),
    "target-group remove-member ID": (
        lambda v: ["target-group", "remove-member", "g", v],
        bad.bad_number_args(limits.ID),
    ),
    # jobs
    "job add NAME": (lambda v: ["job", "add", v], bad.bad_names()),
    "job add --description": (
        lambda v: ["job", "add", "k2", "--description", v],
        bad.bad_text(limits.DESCRIPTION),
    ),
    "job add --schedule": (lambda v: ["job", "add", "k2", "--schedule", v], bad.bad_schedules()),
    "job add --timezone": (
        lambda v: ["job", "add", "k2", "--schedule", "0 3 * * *", "--timezone", v],
        bad.bad_timezones(),
    ),
    "job add --start": (
        lambda v: ["job", "add", "k2", "--schedule", "once", "--start", v],
        bad.bad_times(),
    ),
    "job add --end": (
        lambda v: ["job", "add", "k2", "--schedule", "every 5 minutes", "--end", v],
        bad.bad_times(),
    ),
    "job update --name": (lambda v: ["job", "update", "j", "--name", v], bad.bad_names()),
    "job update --description": (
        lambda v: ["job", "update", "j", "--description", v],
        bad.bad_text(limits.DESCRIPTION),
    ),
    "job update --schedule": (
        lambda v: ["job", "update", "j", "--schedule", v],
        bad.bad_schedules(),
    ),
    "job show NAME": (lambda v: ["job", "show", v], bad.bad_names()),
    "job show --version": (
        lambda v: ["job", "show", "j", "--version", v],
        bad.bad_number_args(limits.VERSION),
    ),
    "job versions NAME": (lambda v: ["job", "versions", v], bad.bad_names()),
    "job remove NAME": (lambda v: ["job", "remove", v], bad.bad_names()),
    "job add-step --name": (
        lambda v: ["job", "add-step", "j", *STEP[2:], "--name", v],
        bad.bad_names(),
    ),
    "job add-step --target-group": (
        lambda v: ["job", "add-step", "j", *STEP, "--target-group", v],
        bad.bad_names(),
    ),
    "job add-step --credential": (
        lambda v: ["job", "add-step", "j", *STEP, "--credential", v],
        bad.bad_names(),
    ),
    "job add-step --command": (
        lambda v: ["job", "add-step", "j", *STEP[:6], "--command", v],
        bad.bad_scripts(),
    ),
    "job update-step --name": (
        lambda v: ["job", "update-step", "j", "s", "--name", v],
        bad.bad_names(),
    ),
    "job update-step STEP": (
        lambda v: ["job", "update-step", "j", v, "--retry-attempts", "1"],
        bad.bad_names(),
    ),
    "job remove-step STEP": (lambda v: ["job", "remove-step", "j", v], bad.bad_names()),
    "job update-step --output-server": (_output("--output-server"), bad.bad_urls()),
    "job update-step --output-database": (
        _output("--output-database"),
        bad.bad_text(limits.IDENTIFIER),
    ),
    "job update-step --output-schema": (
        _output("--output-schema"),
        bad.bad_text(limits.IDENTIFIER),
    ),
    "job update-step --output-table": (
        _output("--output-table"),
        bad.bad_text(limits.IDENTIFIER),
    ),
    "job update-step --output-credential": (_output("--output-credential"), bad.bad_names()),
    # executions
    "run NAME": (lambda v: ["run", v], bad.bad_names()),
    "run --concurrency": (
        lambda v: ["run", "j", "--concurrency", v],
        bad.bad_number_args(limits.CONCURRENCY),
    ),
    "run --lease-seconds": (
        lambda v: ["run", "j", "--lease-seconds", v],
        bad.bad_number_args(limits.LEASE_SECONDS),
    ),
    "execution resume ID": (
        lambda v: ["execution", "resume", v],
        bad.bad_number_args(limits.ID),
    ),
    "execution resume --concurrency": (
        lambda v: ["execution", "resume", "1", "--concurrency", v],
        bad.bad_number_args(limits.CONCURRENCY),
    ),
    "start NAME": (lambda v: ["start", v], bad.bad_names()),
    "stop ID": (lambda v: ["stop", v], bad.bad_number_args(limits.ID)),
    "execution show ID": (
        lambda v: ["execution", "show", v],
        bad.bad_number_args(limits.ID),
    ),
    "execution rerun ID": (
        lambda v: ["execution", "rerun", v],
        bad.bad_number_args(limits.ID),
    ),
    "execution rerun --state": (
        lambda v: ["execution", "rerun", "1", "--state", v],
        st.one_of(
            st.sampled_from(["", ",", "Succeeded", "InProgress", "failed", "Failed,,Nope"]),
            st.text(max_size=20).filter(
                lambda v: (
                    not {p.strip() for p in v.split(",")}
                    <= {"Failed", "TimedOut", "Canceled", "Skipped"}
                )
            ),
        ),
    ),
    "execution show --limit": (
        lambda v: ["execution", "show", "1", "--targets", "--limit", v],
        bad.bad_number_args(limits.COUNT),
    ),
    "execution show --offset": (
        lambda v: ["execution", "show", "1", "--targets", "--offset", v],
        bad.bad_number_args(limits.OFFSET),
    ),
    "execution show --sort": (
        lambda v: ["execution", "show", "1", "--targets", "--sort", v],
        bad.bad_names(),
    ),
    "execution list --count": (
        lambda v: ["execution", "list", "--count", v],
        bad.bad_number_args(limits.COUNT),
    ),
    "execution list --job": (lambda v: ["execution", "list", "--job", v], bad.bad_names()),
    "execution list --lifecycle": (
        lambda v: ["execution", "list", "--lifecycle", v],
        bad.bad_lifecycles(),
    ),
    "execution results ID": (
        lambda v: ["execution", "results", v],
        bad.bad_number_args(limits.ID),
    ),
    "execution results --step": (
        lambda v: ["execution", "results", "1", "--step", v],
        bad.bad_names(),
    ),
    "execution results --format": (
        lambda v: ["execution", "results", "1", "--format", v],
        st.text(max_size=8).filter(lambda v: v not in ("table", "csv", "json")),
    ),
    "purge --older-than": (
        lambda v: ["purge", "--older-than", v],
        bad.bad_number_args(limits.OLDER_THAN_DAYS),
    ),
    "purge --job": (lambda v: ["purge", "--job", v], bad.bad_names()),
    # long-running commands: refused before they start
    "agent --metrics-port": (
        lambda v: ["agent", "--metrics-port", v],
        bad.bad_number_args(limits.PORT),
    ),
    "agent --name": (lambda v: ["agent", "--name", v], bad.bad_names()),
    "up --name": (lambda v: ["up", "--name", v], bad.bad_names()),
    "web --port": (lambda v: ["web", "--port", v], bad.bad_number_args(limits.PORT)),
    "up --port": (lambda v: ["up", "--port", v], bad.bad_number_args(limits.PORT)),
    "demo --databases": (
        lambda v: ["demo", "--databases", v],
        bad.bad_number_args(limits.DEMO_DATABASES),
    ),
    "demo --port": (lambda v: ["demo", "--port", v], bad.bad_number_args(limits.PORT)),
    "demo --folder": (
        lambda v: ["demo", "--no-serve", "--folder", v],
        st.text(max_size=20).map(lambda s: "/tmp/demo\x00" + s),
    ),
    "job update-step --command-file": (
        lambda v: ["job", "update-step", "j", "s", "--command-file", v],
        st.one_of(
            st.text(max_size=20).map(lambda s: "step\x00" + s),
            st.integers(256, 5000).map(lambda n: "s" * n),  # longer than a file name can be
            st.sampled_from(["", "/", "/nonexistent/step.sql", "/proc/self/mem"]),
        ),
    ),
}

# The step settings' numbers, from the one table, on both step commands.
for _setting in limits.NUMBER_SETTINGS:
    assert isinstance(_setting.limit, limits.Number)
    _bad = bad.bad_number_args(_setting.limit)
    SLOTS[f"job add-step {_setting.flag}"] = (
        lambda v, flag=_setting.flag: ["job", "add-step", "j", *STEP, flag, v],
        _bad,
    )
    SLOTS[f"job update-step {_setting.flag}"] = (
        lambda v, flag=_setting.flag: ["job", "update-step", "j", "s", flag, v],
        _bad,
    )

# The rollout policy's shares and the retry class: text the table checks.
_BAD_SHARES = st.one_of(
    st.sampled_from(["0", "0%", "101%", "ten", "5%%", "-1", "", "1e3", "12345678901"]),
    st.text(max_size=20).filter(lambda v: not v.strip().rstrip("%").strip().isdigit()),
)
for _flag in ("--wave-size", "--max-failures"):
    SLOTS[f"job add-step {_flag}"] = (
        lambda v, flag=_flag: ["job", "add-step", "j", *STEP, flag, v],
        _BAD_SHARES,
    )
    SLOTS[f"job update-step {_flag}"] = (
        lambda v, flag=_flag: ["job", "update-step", "j", "s", flag, v],
        _BAD_SHARES,
    )
# `agent` and `up` share the agent's options: both refuse the same values.
for _command in ("agent", "up"):
    for _flag, _limit in (
        ("--concurrency", limits.CONCURRENCY),
        ("--lease-seconds", limits.LEASE_SECONDS),
        ("--grace-period", limits.GRACE_PERIOD),
        ("--retention-days", limits.RETENTION_DAYS),
    ):
        SLOTS[f"{_command} {_flag}"] = (
            lambda v, c=_command, f=_flag: [c, f, v],
            bad.bad_number_args(_limit),
        )

# Webhooks: the URL (a secret: no message shows it), when, and the web UI's address.
SLOTS["job add --notify"] = (lambda v: ["job", "add", "k2", "--notify", v], bad.bad_webhook_urls())
SLOTS["job update --notify"] = (
    lambda v: ["job", "update", "j", "--notify", v],
    bad.bad_webhook_urls(),
)
SLOTS["job add --notify-on"] = (
    lambda v: ["job", "add", "k2", "--notify", "https://h/x", "--notify-on", v],
    st.text(max_size=20).filter(lambda v: v not in limits.NOTIFY_ON_CHOICES),
)
for _command in ("run j", "agent", "up"):
    SLOTS[f"{_command} --web-url"] = (
        lambda v, c=_command: [*c.split(), "--web-url", v],
        bad.bad_web_urls(),
    )

SLOTS["job update-step --retry-on"] = (
    lambda v: ["job", "update-step", "j", "s", "--retry-on", v],
    st.text(max_size=20).filter(lambda v: v not in ("all", "transient")),
)


@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_bad_values_are_refused_in_one_line_and_change_nothing(
    cli: Cli, seeded: Seeded, slot: str
) -> None:
    args_for, values = SLOTS[slot]
    before = seeded.dump()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(value=values)
    def refused(value: str) -> None:
        args = args_for(value)
        assert_refused(cli(*args), args)

    refused()
    assert seeded.dump() == before


@settings(
    max_examples=EXAMPLES * 2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    secret=st.one_of(
        bad.too_long(limits.SECRET),
        st.sampled_from(["\x00", "pw\x00pw", "p\udce9w", "\ud800"]),
    )
)
def test_bad_secrets_on_stdin_are_refused(cli: Cli, seeded: Seeded, secret: str) -> None:
    before = seeded.dump()
    for args in (
        ["credential", "add", "c2", "--username", "u", "--password-stdin"],
        ["credential", "update", "pg", "--password-stdin"],
    ):
        assert_refused(cli(*args, stdin=secret + "\n"), args)
    assert seeded.dump() == before


@settings(
    max_examples=EXAMPLES * 2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    secret=st.one_of(
        bad.too_long(limits.NOTIFY_SECRET),
        st.sampled_from(["", "\x00", "pw\x00pw", "p\udce9w", "\ud800", "a\tb"]),
    )
)
def test_bad_notify_secrets_on_stdin_are_refused(cli: Cli, seeded: Seeded, secret: str) -> None:
    before = seeded.dump()
    for args in (
        ["job", "add", "k2", "--notify", "https://h/x", "--notify-secret-stdin"],
        ["job", "update", "j", "--notify", "https://h/x", "--notify-secret-stdin"],
    ):
        run = cli(*args, stdin=secret + "\n")
        assert_refused(run, args)
        assert secret.strip() == "" or secret not in run.err
    assert seeded.dump() == before


@settings(
    max_examples=EXAMPLES * 2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    content=st.one_of(
        st.binary(max_size=30).map(lambda b: b"SELECT 1" + b + b"\x00"),
        st.binary(max_size=30).map(lambda b: b + b"\xff\xfe SELECT 1"),
        st.sampled_from([b"", b"GO\n", b"\xc3\x28"]),
    )
)
def test_bad_command_files_are_refused(
    cli: Cli, seeded: Seeded, tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("command") / "step.sql"
    path.write_bytes(content)
    before = seeded.dump()
    args = ["job", "update-step", "j", "s", "--command-file", str(path)]
    assert_refused(cli(*args), args)
    assert seeded.dump() == before


@settings(
    max_examples=EXAMPLES * 2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    command=st.sampled_from(["web", "up"]),
    host=st.one_of(
        st.integers(64, 300).map(lambda n: "h" * n),  # a label longer than DNS allows
        st.text(max_size=10).map(lambda s: "local\x00host" + s),
    ),
)
def test_hosts_that_cannot_be_served_are_refused(
    cli: Cli, seeded: Seeded, monkeypatch: pytest.MonkeyPatch, command: str, host: str
) -> None:
    monkeypatch.setenv("SQLFLEET_API_TOKEN", "t")  # else any host but the loopback is refused
    args = [command, "--host", host, "--port", "0"]
    assert_refused(cli(*args), args)


# -- the cases from the issue tracker, one by one ------------------------------------------

TOO_BIG = ["2147483648", "99999999999999999999"]
LISTED: list[list[str]] = [
    *[[command, "--log-format", "xml"] for command in ("agent", "web", "up")],
    ["apply", "/nonexistent/fleet.yaml"],
    ["apply", "/proc/self/mem"],
    ["apply", "/etc"],
    ["export", "--job", "no-such-job"],
    ["export", "--job", "j", "--output", "/nonexistent/folder/out.yaml"],
    *[["target-group", "remove-member", "g", n] for n in TOO_BIG],
    *[
        ["target-group", "add-member", "g", "--server", "postgresql://h", *more, "--var", "a=b"]
        for more in (
            [],
            ["--database-pattern", "t_*"],
            ["--database", "d", "--schema-pattern", "s_*"],
            ["--database", "d", "--shard-map-query", "SELECT 1"],
            ["--database", "d", "--exclude"],
            ["--database", "d", "--var", "a=c"],
        )
    ],
    *[["stop", n] for n in TOO_BIG],
    *[["execution", "show", n] for n in TOO_BIG],
    *[["execution", "results", n] for n in TOO_BIG],
    ["execution", "results", "1", "--step", "no-such-step"],
    *[["execution", "list", "--count", n] for n in TOO_BIG],
    *[["job", "show", "j", "--version", n] for n in TOO_BIG],
    *[["run", "j", "--concurrency", n] for n in TOO_BIG],
    *[["agent", "--concurrency", n] for n in TOO_BIG],
    *[
        ["job", "update-step", "j", "s", s.flag, n]
        for s in limits.NUMBER_SETTINGS
        for n in TOO_BIG
        if isinstance(s.limit, limits.Number) and s.limit.high < int(n)
    ],
    *[["purge", "--older-than", v] for v in ("nan", "inf", "-inf", "1e308")],
    *[["agent", "--lease-seconds", v] for v in ("nan", "inf", "1e308")],
    *[["agent", "--retention-days", v] for v in ("nan", "inf", "1e308")],
    *[["agent", "--grace-period", v] for v in ("nan", "inf", "1e308")],
    ["target-group", "add-member", "g", "--server", "postgresql://" + "h" * 2000 + ":5432"],
    ["target-group", "add-member", "g", "--server", f"postgresql://u:{bad.URL_PASSWORD}@h\n"],
    [*_output("--output-server")(f"postgresql://u:{bad.URL_PASSWORD}@h\t:5432")],
    [*_output("--output-schema")("x" * 200)],
    [*_output("--output-schema")("")],
    ["job", "add", "k2", "--schedule", ",".join(["1"] * 66) + " * * * *"],  # 139 characters
    ["job", "add", "k2", "--schedule", "once", "--start", "9999-12-31T23:00:00"],
    [
        "job",
        "add",
        "k2",
        "--schedule",
        "once",
        "--start",
        "9999-12-31T23:00",
        "--timezone",
        "America/Adak",
    ],
    ["job", "add", "k2", "--schedule", "every 5 minutes", "--end", "9999-12-31T23:59:59-12:00"],
    ["job", "update", "j", "--schedule", "once", "--start", "9999-12-31"],
    ["job", "add", "k2", "--schedule", "0 3 * * *", "--timezone", ""],
    ["job", "update-step", "j", "s", "--timeout", "1000000000000"],
    ["job", "update-step", "j", "s", "--command", "SELECT 1;\n\\connect other"],
    ["job", "update-step", "j", "s", "--command", "SELECT 'unterminated;"],
    ["job", "update-step", "j", "s", "--command", "COPY t FROM stdin;\n1\n"],
    ["job", "update-step", "j", "s", "--command", "SELECT 1\nGO 0"],
    ["job", "update-step", "j", "s", "--allow-database-switch=yes"],
    ["job", "update-step", "j", "s", "--fresh-connection=yes"],
    ["job", "add-step", "j", *STEP, "--fresh-connection=no"],
    ["job", "add-step", "j", *STEP[:-1], "SELECT 1\nGO 100001"],
    ["job", "add", "."],
    ["job", "add", ".."],
    ["job", "update", "j", "--name", ".."],
    ["credential", "add", "..", "--username", "u", "--password-env", PASSWORD_ENV],
    ["target-group", "add", "."],
    ["job", "add-step", "j", *STEP[2:], "--name", ".."],
    ["job", "add", "k2", "--notify-env", "SQLFLEET_ROBUSTNESS_UNSET"],
    ["job", "add", "k2", "--notify-on", "always"],
    ["job", "add", "k2", "--notify-secret-env", PASSWORD_ENV],
    ["job", "add", "k2", "--notify", "https://h/x", "--notify-secret-env", "SQLFLEET_UNSET_X"],
    ["job", "add", "k2", "--notify", "https://h/x", "--notify", "https://h/x"],
    ["job", "add", "k2", *[a for i in range(11) for a in ("--notify", f"https://h/{i}")]],
    ["job", "update", "j", "--notify", "https://h/x", "--no-notify"],
    ["job", "update", "j", "--notify-on", "always"],
    [
        "job",
        "add",
        "k2",
        "--notify",
        "https://h/x",
        "--notify-secret-stdin",
        "--notify-secret-env",
        PASSWORD_ENV,
    ],
]


@pytest.mark.parametrize("args", LISTED, ids=lambda a: " ".join(a)[:60])
def test_listed_cases_are_refused(cli: Cli, seeded: Seeded, args: list[str]) -> None:
    before = seeded.dump()
    assert_refused(cli(*args), args)
    assert seeded.dump() == before


def test_an_empty_time_zone_is_not_utc(cli: Cli) -> None:
    run = cli("job", "add", "k2", "--schedule", "0 3 * * *", "--timezone", "")
    assert run.err == "error: unknown time zone ''\n"


def test_a_huge_concurrency_creates_no_execution(cli: Cli, seeded: Seeded) -> None:
    before = seeded.fleet.list_executions()
    run = cli("run", "j", "--concurrency", "99999999999999999999")
    assert run.err == "error: --concurrency must be 1 to 100000, not 99999999999999999999\n"
    assert seeded.fleet.list_executions() == before


def test_command_files_with_nul_or_past_the_cap_are_refused(
    cli: Cli, seeded: Seeded, tmp_path: Path
) -> None:
    before = seeded.dump()
    nul = tmp_path / "nul.sql"
    nul.write_bytes(b"SELECT 1;\x00\n")
    run = cli("job", "update-step", "j", "s", "--command-file", str(nul))
    assert run.err == "error: the command contains a NUL character\n"
    big = tmp_path / "big.sql"
    big.write_bytes(b"-- " + b"x" * 50_000_000 + b"\nSELECT 1\n")  # 50 MB
    run = cli("job", "update-step", "j", "s", "--command-file", str(big))
    assert run.code == 2 and "longer than 1,000,000 characters" in run.err
    assert seeded.dump() == before
