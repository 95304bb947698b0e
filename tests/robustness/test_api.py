"""Every REST route and web form, fed bad values: a 4xx JSON error (or a form error), no 5xx.

Bodies are sent as JSON text made here (NaN and lone surrogates included, as a careless
client would send them); the job database must be unchanged after each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlfleet import limits
from tests.robustness import bad
from tests.robustness.conftest import Seeded, assert_api_error

EXAMPLES = 5
API = "/api/v1"
Request = tuple[str, str, dict[str, Any]]  # method, path, keyword arguments for the client
Make = Callable[[Any, Seeded], Request]

STEP = {"name": "s2", "command": "SELECT 1", "target_group": "g", "credential": "pg"}
OUTPUT = {
    "server": "postgresql://127.0.0.1:5432",
    "database": "d",
    "table": "t",
    "credential": "pg",
}


def body(method: str, path: str, document: Any) -> Request:
    """A request with a JSON body, serialized here so that NaN and surrogates get through."""
    return (
        method,
        path,
        {
            "content": json.dumps(document).encode(),
            "headers": {"content-type": "application/json"},
        },
    )


def query(path: str, **params: Any) -> Request:
    return "GET", path, {"params": {k: str(v) for k, v in params.items()}}


def segment(value: Any) -> str:
    """A value as one URL path segment."""
    return quote(str(value), safe="")


def _segment_ok(value: str) -> bool:
    """Whether a value can be one path segment ('', '.' and '..' are resolved away by URLs)."""
    return _no_surrogates(value) and value not in ("", ".", "..")


def _no_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


SLOTS: dict[str, tuple[Make, st.SearchStrategy[Any]]] = {
    "POST credentials name": (
        lambda v, _: body(
            "POST", f"{API}/credentials", {"name": v, "username": "u", "secret": "s"}
        ),
        bad.bad_names(),
    ),
    "POST credentials username": (
        lambda v, _: body(
            "POST", f"{API}/credentials", {"name": "c2", "username": v, "secret": "s"}
        ),
        bad.bad_text(limits.USERNAME),
    ),
    "POST credentials secret": (
        lambda v, _: body(
            "POST", f"{API}/credentials", {"name": "c2", "username": "u", "secret": v}
        ),
        st.one_of(bad.too_long(limits.SECRET), st.sampled_from(["a\x00", "\udce9"])),
    ),
    "PATCH credentials username": (
        lambda v, _: body("PATCH", f"{API}/credentials/pg", {"username": v}),
        bad.bad_text(limits.USERNAME),
    ),
    "GET credentials NAME": (
        lambda v, _: ("GET", f"{API}/credentials/{segment(v)}", {}),
        bad.bad_names().filter(_segment_ok),
    ),
    "POST target-groups name": (
        lambda v, _: body("POST", f"{API}/target-groups", {"name": v}),
        bad.bad_names(),
    ),
    "POST members server": (
        lambda v, _: body("POST", f"{API}/target-groups/g/members", {"server": v}),
        bad.bad_urls(),
    ),
    "POST members database": (
        lambda v, _: body(
            "POST", f"{API}/target-groups/g/members", {"server": "postgresql://h", "database": v}
        ),
        bad.bad_text(limits.IDENTIFIER),
    ),
    "POST members database_pattern": (
        lambda v, _: body(
            "POST",
            f"{API}/target-groups/g/members",
            {"server": "postgresql://h", "database_pattern": v},
        ),
        bad.bad_text(limits.PATTERN),
    ),
    "POST members schema_pattern": (
        lambda v, _: body(
            "POST",
            f"{API}/target-groups/g/members",
            {"server": "postgresql://h", "database": "d", "schema_pattern": v},
        ),
        bad.bad_text(limits.PATTERN),
    ),
    "POST members shard_map_query": (
        lambda v, _: body(
            "POST",
            f"{API}/target-groups/g/members",
            {"server": "postgresql://h", "database": "d", "shard_map_query": v},
        ),
        bad.bad_scripts(),
    ),
    "POST members refresh_credential": (
        lambda v, _: body(
            "POST",
            f"{API}/target-groups/g/members",
            {"server": "postgresql://h", "refresh_credential": v},
        ),
        bad.bad_names(),
    ),
    "POST members variables name": (
        lambda v, _: body(
            "POST",
            f"{API}/target-groups/g/members",
            {"server": "postgresql://h", "database": "d", "variables": {v: "gold"}},
        ),
        bad.bad_variable_names(),
    ),
    "POST members variables value": (
        lambda v, _: body(
            "POST",
            f"{API}/target-groups/g/members",
            {"server": "postgresql://h", "database": "d", "variables": {"plan": v}},
        ),
        bad.bad_variable_values(),
    ),
    "DELETE members ID": (
        lambda v, _: ("DELETE", f"{API}/target-groups/g/members/{v}", {}),
        bad.bad_ints(limits.ID),
    ),
    "POST target-groups resolve credential": (
        lambda v, _: body("POST", f"{API}/target-groups/g/resolve", {"credential": v}),
        bad.bad_names(),
    ),
    "POST jobs name": (lambda v, _: body("POST", f"{API}/jobs", {"name": v}), bad.bad_names()),
    "POST jobs description": (
        lambda v, _: body("POST", f"{API}/jobs", {"name": "k2", "description": v}),
        bad.bad_text(limits.DESCRIPTION),
    ),
    "POST jobs schedule": (
        lambda v, _: body("POST", f"{API}/jobs", {"name": "k2", "schedule": {"spec": v}}),
        bad.bad_schedules(),
    ),
    "POST jobs timezone": (
        lambda v, _: body(
            "POST", f"{API}/jobs", {"name": "k2", "schedule": {"spec": "0 3 * * *", "timezone": v}}
        ),
        bad.bad_timezones(),
    ),
    "POST jobs start_time": (
        lambda v, _: body(
            "POST", f"{API}/jobs", {"name": "k2", "schedule": {"spec": "once", "start_time": v}}
        ),
        bad.bad_times(),
    ),
    "POST jobs end_time": (
        lambda v, _: body(
            "POST",
            f"{API}/jobs",
            {"name": "k2", "schedule": {"spec": "every 5 minutes", "end_time": v}},
        ),
        bad.bad_times(),
    ),
    "POST jobs step name": (
        lambda v, _: body("POST", f"{API}/jobs", {"name": "k2", "steps": [{**STEP, "name": v}]}),
        bad.bad_names(),
    ),
    "POST jobs step command": (
        lambda v, _: body("POST", f"{API}/jobs", {"name": "k2", "steps": [{**STEP, "command": v}]}),
        bad.bad_scripts(),
    ),
    "PATCH jobs name": (
        lambda v, _: body("PATCH", f"{API}/jobs/j", {"name": v}),
        bad.bad_names(),
    ),
    "PATCH jobs description": (
        lambda v, _: body("PATCH", f"{API}/jobs/j", {"description": v}),
        bad.bad_text(limits.DESCRIPTION),
    ),
    "PATCH jobs schedule": (
        lambda v, _: body("PATCH", f"{API}/jobs/j", {"schedule": {"spec": v}}),
        bad.bad_schedules(),
    ),
    "POST jobs notify url": (
        lambda v, _: body("POST", f"{API}/jobs", {"name": "k2", "notify": [{"url": v}]}),
        bad.bad_webhook_urls(),
    ),
    "POST jobs notify on": (
        lambda v, _: body(
            "POST", f"{API}/jobs", {"name": "k2", "notify": [{"url": "https://h/x", "on": v}]}
        ),
        st.text(max_size=20).filter(lambda v: v not in limits.NOTIFY_ON_CHOICES),
    ),
    "POST jobs notify secret": (
        lambda v, _: body(
            "POST",
            f"{API}/jobs",
            {"name": "k2", "notify": [{"url": "https://h/x", "secret": v}]},
        ),
        st.one_of(
            bad.too_long(limits.NOTIFY_SECRET),
            st.sampled_from(["", "a\x00", "\udce9", "a\nb"]),
        ),
    ),
    "PATCH jobs notify url": (
        lambda v, _: body("PATCH", f"{API}/jobs/j", {"notify": [{"url": v}]}),
        bad.bad_webhook_urls(),
    ),
    "PATCH jobs notify count": (
        lambda v, _: body(
            "PATCH", f"{API}/jobs/j", {"notify": [{"url": f"https://h/{i}"} for i in range(v)]}
        ),
        st.integers(limits.MAX_WEBHOOKS + 1, limits.MAX_WEBHOOKS + 30),
    ),
    "GET jobs version": (
        lambda v, _: query(f"{API}/jobs/j", version=v),
        bad.bad_ints(limits.VERSION),
    ),
    "GET jobs NAME": (
        lambda v, _: ("GET", f"{API}/jobs/{segment(v)}", {}),
        bad.bad_names().filter(_segment_ok),
    ),
    "POST steps name": (
        lambda v, _: body("POST", f"{API}/jobs/j/steps", {**STEP, "name": v}),
        bad.bad_names(),
    ),
    "POST steps target_group": (
        lambda v, _: body("POST", f"{API}/jobs/j/steps", {**STEP, "target_group": v}),
        bad.bad_names(),
    ),
    "POST steps credential": (
        lambda v, _: body("POST", f"{API}/jobs/j/steps", {**STEP, "credential": v}),
        bad.bad_names(),
    ),
    "POST steps command": (
        lambda v, _: body("POST", f"{API}/jobs/j/steps", {**STEP, "command": v}),
        bad.bad_scripts(),
    ),
    "PATCH steps name": (
        lambda v, _: body("PATCH", f"{API}/jobs/j/steps/s", {"name": v}),
        bad.bad_names(),
    ),
    "PATCH steps command": (
        lambda v, _: body("PATCH", f"{API}/jobs/j/steps/s", {"command": v}),
        bad.bad_scripts(),
    ),
    "PATCH steps output server": (
        lambda v, _: body("PATCH", f"{API}/jobs/j/steps/s", {"output": {**OUTPUT, "server": v}}),
        bad.bad_urls(),
    ),
    "PATCH steps output database": (
        lambda v, _: body("PATCH", f"{API}/jobs/j/steps/s", {"output": {**OUTPUT, "database": v}}),
        bad.bad_text(limits.IDENTIFIER),
    ),
    "PATCH steps output schema": (
        lambda v, _: body("PATCH", f"{API}/jobs/j/steps/s", {"output": {**OUTPUT, "schema": v}}),
        bad.bad_text(limits.IDENTIFIER),
    ),
    "PATCH steps output table": (
        lambda v, _: body("PATCH", f"{API}/jobs/j/steps/s", {"output": {**OUTPUT, "table": v}}),
        bad.bad_text(limits.IDENTIFIER),
    ),
    "PATCH steps output credential": (
        lambda v, _: body(
            "PATCH", f"{API}/jobs/j/steps/s", {"output": {**OUTPUT, "credential": v}}
        ),
        bad.bad_names(),
    ),
    "GET executions limit": (
        lambda v, _: query(f"{API}/executions", limit=v),
        bad.bad_ints(limits.COUNT),
    ),
    "GET executions offset": (
        lambda v, _: query(f"{API}/executions", offset=v),
        bad.bad_ints(limits.OFFSET),
    ),
    "GET executions job": (
        lambda v, _: query(f"{API}/executions", job=v),
        bad.bad_names().filter(_no_surrogates),
    ),
    "GET executions ID": (
        lambda v, _: ("GET", f"{API}/executions/{v}", {}),
        bad.bad_ints(limits.ID),
    ),
    "POST executions ID stop": (
        lambda v, _: ("POST", f"{API}/executions/{v}/stop", {}),
        bad.bad_ints(limits.ID),
    ),
    "GET executions targets limit": (
        lambda v, s: query(f"{API}/executions/{s.execution_id}/targets", limit=v),
        bad.bad_ints(limits.COUNT),
    ),
    "POST executions rerun states": (
        lambda v, s: body("POST", f"{API}/executions/{s.execution_id}/rerun", {"states": v}),
        st.sampled_from([[], ["Succeeded"], ["Nope"], "Failed", [1], None, [["Failed"]]]),
    ),
    "POST executions rerun ID": (
        lambda v, _: body("POST", f"{API}/executions/{segment(v)}/rerun", {}),
        bad.bad_ints(limits.ID),
    ),
    "POST jobs preview preflight": (
        lambda v, _: ("POST", f"{API}/jobs/j/preview", {"params": {"preflight": v}}),
        st.sampled_from(["maybe", "2", "", "yes please", "\u00e9"]),
    ),
    "GET executions results ID": (
        lambda v, _: ("GET", f"{API}/executions/{v}/results", {}),
        bad.bad_ints(limits.ID),
    ),
    "GET executions results limit": (
        lambda v, s: query(f"{API}/executions/{s.execution_id}/results", limit=v),
        bad.bad_ints(limits.COUNT),
    ),
    "GET executions results offset": (
        lambda v, s: query(f"{API}/executions/{s.execution_id}/results", offset=v),
        bad.bad_ints(limits.OFFSET),
    ),
    "GET executions results step": (
        lambda v, s: query(f"{API}/executions/{s.execution_id}/results", step=v),
        bad.bad_names().filter(_no_surrogates),
    ),
    "GET executions results.csv step": (
        lambda v, s: query(f"{API}/executions/{s.execution_id}/results.csv", step=v),
        bad.bad_names().filter(_no_surrogates),
    ),
    "GET executions results.csv ID": (
        lambda v, _: ("GET", f"{API}/executions/{v}/results.csv", {}),
        bad.bad_ints(limits.ID),
    ),
    "GET executions targets ID result": (
        lambda v, s: ("GET", f"{API}/executions/{s.execution_id}/targets/{v}/result", {}),
        bad.bad_ints(limits.ID),
    ),
    "GET executions targets search": (
        lambda v, s: query(f"{API}/executions/{s.execution_id}/targets", search=v),
        bad.bad_text(limits.SEARCH).filter(lambda v: v != "" and _no_surrogates(v)),
    ),
    "GET executions targets sort": (
        lambda v, s: query(f"{API}/executions/{s.execution_id}/targets", sort=v),
        st.one_of(bad.bad_names().filter(_no_surrogates), st.sampled_from(["", "id", "STEP"])),
    ),
    "GET executions targets since": (
        lambda v, s: query(f"{API}/executions/{s.execution_id}/targets", since=v),
        st.sampled_from(
            [
                "",
                "yesterday",
                "2026-01-01T00:00:00",
                "99999-01-01T00:00:00Z",
                "9999-12-31T23:59:59-14:00",
                "0001-01-01T00:00:00+14:00",
            ]
        ),
    ),
    "GET executions targets ID": (
        lambda v, s: ("GET", f"{API}/executions/{s.execution_id}/targets/{v}", {}),
        bad.bad_ints(limits.ID),
    ),
}

# The rollout policy's shares and the retry class: text the table checks.
_BAD_TEXT_SETTINGS = {
    "wave_size": st.sampled_from(["0", "0%", "101%", "ten", "", 1.5, True, [], -3]),
    "max_failures": st.sampled_from(["0", "200%", "x%", "%", 0, {}, "1 0"]),
    "retry_on": st.sampled_from(["", "some", "ALL", 1, True, "transient "]),
}
for _field, _values in _BAD_TEXT_SETTINGS.items():
    SLOTS[f"PATCH steps {_field}"] = (
        lambda v, _, f=_field: body("PATCH", f"{API}/jobs/j/steps/s", {f: v}),
        _values,
    )
    SLOTS[f"POST steps {_field}"] = (
        lambda v, _, f=_field: body("POST", f"{API}/jobs/j/steps", {**STEP, f: v}),
        _values,
    )

for _setting in limits.NUMBER_SETTINGS:
    assert isinstance(_setting.limit, limits.Number)
    _values = bad.bad_numbers(_setting.limit)
    _field = _setting.field
    SLOTS[f"POST steps {_field}"] = (
        lambda v, _, f=_field: body("POST", f"{API}/jobs/j/steps", {**STEP, f: v}),
        _values,
    )
    SLOTS[f"PATCH steps {_field}"] = (
        lambda v, _, f=_field: body("PATCH", f"{API}/jobs/j/steps/s", {f: v}),
        _values,
    )
    SLOTS[f"POST jobs step {_field}"] = (
        lambda v, _, f=_field: body(
            "POST", f"{API}/jobs", {"name": "k2", "steps": [{**STEP, f: v}]}
        ),
        _values,
    )


def _settings(examples: int = EXAMPLES) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_bad_values_are_4xx_json_errors_and_change_nothing(
    client: TestClient, seeded: Seeded, slot: str
) -> None:
    make, values = SLOTS[slot]
    before = seeded.dump()

    @_settings()
    @given(value=values)
    def refused(value: Any) -> None:
        method, path, kwargs = make(value, seeded)
        response = client.request(method, path, **kwargs)
        assert_api_error(response, f"{slot} {str(value)[:80]!r}")

    refused()
    assert seeded.dump() == before


LISTED: list[Request] = [
    body("POST", f"{API}/target-groups/g/members", {"server": "postgresql://" + "h" * 2000}),
    body(
        "POST",
        f"{API}/target-groups/g/members",
        {"server": f"postgresql://u:{bad.URL_PASSWORD}@h\n"},
    ),
    *[
        body(
            "POST",
            f"{API}/target-groups/g/members",
            {"server": "postgresql://h", "database": "d", **fields},
        )
        for fields in (
            {"variables": {f"v{i}": "x" for i in range(limits.MAX_VARIABLES + 1)}},
            {"variables": {"plan": 3}},
            {"variables": {"plan": None}},
            {"variables": ["plan=gold"]},
            {"variables": {"plan": "gold"}, "exclude": True},
            {"variables": {"plan": "gold"}, "shard_map_query": "SELECT 1"},
        )
    ],
    body(
        "POST",
        f"{API}/target-groups/g/members",
        {"server": "postgresql://h", "variables": {"a": "b"}},
    ),
    body("PATCH", f"{API}/jobs/j/steps/s", {"output": {**OUTPUT, "schema": "x" * 200}}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"output": {**OUTPUT, "schema": ""}}),
    body("PATCH", f"{API}/jobs/j", {"schedule": {"spec": ",".join(["1"] * 66) + " * * * *"}}),
    body(
        "PATCH", f"{API}/jobs/j", {"schedule": {"spec": "once", "start_time": "9999-12-31T23:00"}}
    ),
    body(
        "PATCH",
        f"{API}/jobs/j",
        {
            "schedule": {
                "spec": "once",
                "start_time": "9999-12-31T23:00",
                "timezone": "America/Adak",
            }
        },
    ),
    body("PATCH", f"{API}/jobs/j", {"schedule": {"spec": "0 3 * * *", "timezone": ""}}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"step_timeout_seconds": 1000000000000}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"command": "x" * 50_000_000}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"command": "SELECT 1;\x00"}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"command": "SELECT 1;\n\\connect other"}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"command": "COPY t FROM stdin;\n1\n"}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"command": "SELECT 1\nGO 0"}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"allow_database_switch": "maybe"}),
    body("PATCH", f"{API}/jobs/j/steps/s", {"fresh_connection": "maybe"}),
    body("POST", f"{API}/jobs/j/steps", {**STEP, "fresh_connection": [True]}),
    body("POST", f"{API}/jobs", {"name": ".."}),
    body("POST", f"{API}/jobs", {"name": "."}),
    body("PATCH", f"{API}/jobs/j", {"name": ".."}),
    body("POST", f"{API}/credentials", {"name": "..", "username": "u", "secret": "s"}),
    body("POST", f"{API}/target-groups", {"name": "."}),
    body("POST", f"{API}/jobs", {"name": "k2", "steps": [{**STEP, "name": ".."}]}),
    *[
        body("PATCH", f"{API}/jobs/j/steps/s", {s.field: n})
        for s in limits.NUMBER_SETTINGS
        for n in (2147483648, 99999999999999999999)
    ],
    *[
        body("PATCH", f"{API}/jobs/j/steps/s", {s.field: n})
        for s in limits.NUMBER_SETTINGS
        if isinstance(s.limit, limits.Number) and not s.limit.whole
        for n in (float("nan"), float("inf"), 1e308)
    ],
    *[("GET", f"{API}/executions/{n}", {}) for n in (2147483648, 99999999999999999999)],
    *[("POST", f"{API}/executions/{n}/stop", {}) for n in (2147483648, 99999999999999999999)],
    query(f"{API}/jobs/j", version=99999999999999999999),
    query(f"{API}/executions", limit=99999999999999999999, offset=2147483648),
    query(f"{API}/executions/1/results", limit=99999999999999999999, offset=2147483648),
    query(f"{API}/executions/1/results", step="no-such-step"),
    ("GET", f"{API}/executions/99999999999999999999/results.csv", {}),
    ("DELETE", f"{API}/target-groups/g/members/99999999999999999999", {}),
    ("GET", f"{API}/jobs/%FF%FE", {}),
    ("GET", f"{API}/jobs/%ED%B3%A9", {}),
    ("GET", f"{API}/jobs/a%00b", {}),
    ("GET", f"{API}/executions?job=%FF", {}),
    (
        "POST",
        f"{API}/jobs",
        {"content": b'{"name": "\xff\xfe"}', "headers": {"content-type": "application/json"}},
    ),
]


@pytest.mark.parametrize("request_", LISTED, ids=lambda r: f"{r[0]} {r[1]}"[:60])
def test_listed_cases_are_4xx(client: TestClient, seeded: Seeded, request_: Request) -> None:
    before = seeded.dump()
    method, path, kwargs = request_
    assert_api_error(client.request(method, path, **kwargs), f"{method} {path}")
    assert seeded.dump() == before


# -- the web forms --------------------------------------------------------------------------

HTML = {"accept": "text/html"}


def csrf(client: TestClient) -> str:
    match = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/new-job", headers=HTML).text
    )
    assert match
    return match.group(1)


def _form_value(value: str) -> bool:
    """What a browser can send and the form does not trim into a good value."""
    return _no_surrogates(value) and value == value.strip()


NEW_JOB = {"name": "k2", "command": "SELECT 1", "target_group": "g", "credential": "pg"}
FORM_FIELDS: dict[str, st.SearchStrategy[str]] = {
    "name": bad.bad_names(),
    "description": bad.too_long(limits.DESCRIPTION),
    "command": bad.bad_scripts(),
    "step_name": bad.bad_names().filter(lambda v: v.strip() != ""),
    "target_group": bad.bad_names(),
    "credential": bad.bad_names(),
    "schedule": bad.bad_schedules().filter(lambda v: v.strip() != ""),
    **{
        s.field: bad.bad_number_args(s.limit).filter(lambda v: v.strip() != "")
        for s in limits.NUMBER_SETTINGS
        if isinstance(s.limit, limits.Number)
    },
    "wave_size": st.sampled_from(["0", "ten", "101%", "5%%", "-2"]),
    "max_failures": st.sampled_from(["0%", "x", "1.5", "99999999999"]),
    "retry_on": st.sampled_from(["some", "ALL", "transient,all"]),
    "notify_urls": bad.bad_webhook_urls().filter(lambda v: v.strip() != ""),
}


@pytest.mark.parametrize("field", sorted(FORM_FIELDS))
def test_the_new_job_form_shows_an_error_and_saves_nothing(
    client: TestClient, seeded: Seeded, field: str
) -> None:
    token = csrf(client)
    before = seeded.dump()

    @_settings(3)
    @given(value=FORM_FIELDS[field].filter(_form_value))
    def refused(value: str) -> None:
        form = {**NEW_JOB, field: value, "csrf_token": token}
        if field == "schedule":
            form["timezone"] = "UTC"
        response = client.post("/new-job", data=form, headers=HTML, follow_redirects=False)
        assert response.status_code == 422, response.text[:300]
        assert 'id="form-error"' in response.text and "Traceback" not in response.text
        assert bad.URL_PASSWORD not in response.text  # a webhook URL's token never comes back

    refused()
    assert seeded.dump() == before


STEP_FORM = {"command": "SELECT 1", "target_group": "g", "credential": "pg", "step_name": "s2"}
OUTPUT_FORM = {
    "output_server": "postgresql://h",
    "output_database": "d",
    "output_table": "t",
    "output_credential": "pg",
}
EDIT_FORMS: dict[str, tuple[str, dict[str, str], str, st.SearchStrategy[str]]] = {
    **{
        f"add step {field}": ("/jobs/j/steps/new", STEP_FORM, field, values)
        for field, values in FORM_FIELDS.items()
        if field not in ("name", "description", "schedule", "notify_urls")
    },
    **{
        f"edit step {field}": ("/jobs/j/steps/s/edit", STEP_FORM, field, values)
        for field, values in FORM_FIELDS.items()
        if field not in ("name", "description", "schedule", "notify_urls")
    },
    "add step output server": (
        "/jobs/j/steps/new",
        {**STEP_FORM, **OUTPUT_FORM},
        "output_server",
        bad.bad_urls().filter(lambda v: v.strip() != ""),
    ),
    "add step output table": (
        "/jobs/j/steps/new",
        {**STEP_FORM, **OUTPUT_FORM},
        "output_table",
        bad.bad_text(limits.IDENTIFIER).filter(lambda v: v.strip() != ""),
    ),
    "edit job description": ("/jobs/j/edit", {}, "description", FORM_FIELDS["description"]),
    "edit job schedule": ("/jobs/j/edit", {"timezone": "UTC"}, "schedule", FORM_FIELDS["schedule"]),
    "edit job notify_urls": (
        "/jobs/j/edit",
        {"notify_action": "replace"},
        "notify_urls",
        FORM_FIELDS["notify_urls"],
    ),
    "edit job notify_on": (
        "/jobs/j/edit",
        {"notify_action": "replace", "notify_urls": "https://h/x"},
        "notify_on",
        st.sampled_from(["sometimes", "FAILURE", "never"]),
    ),
    "edit job notify_secret": (
        "/jobs/j/edit",
        {"notify_action": "replace", "notify_urls": "https://h/x"},
        "notify_secret",
        st.one_of(bad.too_long(limits.NOTIFY_SECRET), st.sampled_from(["a\x00", "a\tb"])),
    ),
    "edit job notify_action": (
        "/jobs/j/edit",
        {"notify_urls": "https://h/x"},
        "notify_action",
        st.sampled_from(["keep", "drop", "KEEP"]),
    ),
    "edit job time zone": (
        "/jobs/j/edit",
        {"schedule": "once"},
        "timezone",
        bad.bad_timezones().filter(lambda v: v.strip() != ""),
    ),
}


@pytest.mark.parametrize("form", sorted(EDIT_FORMS))
def test_the_edit_forms_show_an_error_and_save_nothing(
    client: TestClient, seeded: Seeded, form: str
) -> None:
    path, fields, field, values = EDIT_FORMS[form]
    token = csrf(client)
    before = seeded.dump()

    @_settings(3)
    @given(value=values.filter(_form_value))
    def refused(value: str) -> None:
        data = {**fields, field: value, "csrf_token": token}
        response = client.post(path, data=data, headers=HTML, follow_redirects=False)
        assert response.status_code == 422, response.text[:300]
        assert 'id="form-error"' in response.text and "Traceback" not in response.text
        assert bad.URL_PASSWORD not in response.text  # a webhook URL's token never comes back

    refused()
    assert seeded.dump() == before


FORMS: dict[str, tuple[str, dict[str, str], str, st.SearchStrategy[str]]] = {
    "credential name": ("/credentials", {"username": "u", "secret": "s"}, "name", bad.bad_names()),
    "credential username": (
        "/credentials",
        {"name": "c2", "secret": "s"},
        "username",
        bad.bad_text(limits.USERNAME),
    ),
    "credential update username": (
        "/credentials/pg",
        {},
        "username",
        bad.bad_text(limits.USERNAME).filter(lambda v: v.strip() != ""),
    ),
    "target group name": ("/target-groups", {}, "name", bad.bad_names()),
    "member server": ("/target-groups/g/members", {}, "server", bad.bad_urls()),
    "member database": (
        "/target-groups/g/members",
        {"server": "postgresql://h"},
        "database",
        bad.bad_text(limits.IDENTIFIER).filter(lambda v: v.strip() != ""),
    ),
    "member variables": (
        "/target-groups/g/members",
        {"server": "postgresql://h", "database": "d"},
        "variables",
        bad.bad_assignments().filter(lambda v: v.strip() != ""),
    ),
    "member shard map query": (
        "/target-groups/g/members",
        {"server": "postgresql://h", "database": "d"},
        "shard_map_query",
        bad.bad_scripts().filter(lambda v: v.strip() != ""),
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_other_forms_flash_an_error_and_save_nothing(
    client: TestClient, seeded: Seeded, form: str
) -> None:
    path, fields, field, values = FORMS[form]
    token = csrf(client)
    before = seeded.dump()

    @_settings(3)
    @given(value=values.filter(_form_value))
    def refused(value: str) -> None:
        data = {**fields, field: value, "csrf_token": token}
        response = client.post(path, data=data, headers=HTML, follow_redirects=False)
        assert response.status_code == 303, response.text[:300]
        page = client.get(response.headers["location"], headers=HTML)
        assert page.status_code == 200 and 'class="flash error"' in page.text, page.text[:500]

    refused()
    assert seeded.dump() == before
