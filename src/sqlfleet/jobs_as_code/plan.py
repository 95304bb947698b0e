"""From definitions files to the job database: a plan of what changes, then one transaction.

The plan compares what the files describe with what is stored: each credential, target group
and job is created, changed or unchanged (and, with `prune`, what the files no longer hold is
removed). A job that is unchanged gets no new version, so applying the same files twice
changes nothing the second time. Every check that can fail is made while planning, with the
file and line of what it is about; applying runs the plan in one transaction.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlfleet import limits
from sqlfleet.errors import InvalidValue, SqlfleetError
from sqlfleet.fleet import Fleet, check_member
from sqlfleet.jobs_as_code.document import (
    DefinitionFileError,
    Definitions,
    Located,
    ScheduleDoc,
)
from sqlfleet.model import Job, Member, OutputDestination, StepSettings, TargetVariables
from sqlfleet.schedule import Schedule
from sqlfleet.secrets import Secret
from sqlfleet.step_settings import build_step_settings, read_command_file
from sqlfleet.webhooks import WebhookSpec, check_webhook_url, check_webhooks

CREATE, CHANGE, UNCHANGED, REMOVE = "create", "change", "unchanged", "remove"


@dataclass(frozen=True, slots=True)
class Change:
    """What applying does to one credential, target group or job."""

    action: str
    kind: str
    name: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        sign = {CREATE: "+", CHANGE: "~", UNCHANGED: "=", REMOVE: "-"}[self.action]
        details = f" ({', '.join(self.details)})" if self.details else ""
        return f"{sign} {self.kind} {self.name}: {self.action}{details}"


@dataclass
class Plan:
    """The changes, in the order they are applied, and what does each."""

    changes: list[Change] = field(default_factory=list)
    _steps: list[Callable[[], object]] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        """True when applying would change anything."""
        return any(c.action != UNCHANGED for c in self.changes)

    def add(self, change: Change, step: Callable[[], object] | None = None) -> None:
        self.changes.append(change)
        if step is not None:
            self._steps.append(step)


def apply(fleet: Fleet, plan: Plan) -> None:
    """Apply a plan in one transaction: all of it, or nothing."""
    fleet.secrets  # noqa: B018 -- read the key before the transaction holds the database
    with fleet.transaction():
        for step in plan._steps:
            step()


def make_plan(fleet: Fleet, definitions: Definitions, *, prune: bool = False) -> Plan:
    """What applying `definitions` would do; refuses (with file and line) what cannot be done."""
    plan = Plan()
    stored_credentials = {c.name for c in fleet.list_credentials()}
    stored_groups = {g.name: g for g in fleet.list_target_groups()}
    stored_jobs = {j.name: j for j in fleet.list_jobs()}
    wanted = {
        "credential": {c.item.name for c in definitions.credentials},
        "target group": {g.item.name for g in definitions.target_groups},
    }
    known = {
        "credential": wanted["credential"] | (set() if prune else stored_credentials),
        "target group": wanted["target group"] | (set() if prune else set(stored_groups)),
    }

    def refer(located: Located, kind: str, name: str, *keys: str | int) -> None:
        if name not in known[kind]:
            where = "the files" if prune else "the files nor in the job database"
            raise located.at(*keys).error(
                located.where(*keys), f"{kind} {name!r} is neither in {where}"
            )

    for located in definitions.credentials:
        _plan_credential(fleet, plan, located, stored_credentials)
    for located in definitions.target_groups:
        for i, member in enumerate(located.item.members):
            if member.refresh_credential is not None:
                refer(
                    located, "credential", member.refresh_credential, "members", i,
                    "refresh_credential",
                )  # fmt: skip
        _plan_group(fleet, plan, located, stored_groups)
    for located in definitions.jobs:
        for i, step in enumerate(located.item.steps):
            refer(located, "target group", step.target_group, "steps", i, "target_group")
            refer(located, "credential", step.credential, "steps", i, "credential")
            if step.output is not None:
                refer(located, "credential", step.output.credential, "steps", i, "output")
        _plan_job(fleet, plan, located, stored_jobs)
    if prune:
        jobs = {j.item.name for j in definitions.jobs}
        for name in sorted(set(stored_jobs) - jobs):
            plan.add(Change(REMOVE, "job", name), _remover(fleet.remove_job, name))
        for name in sorted(set(stored_groups) - wanted["target group"]):
            plan.add(
                Change(REMOVE, "target group", name), _remover(fleet.remove_target_group, name)
            )
        for name in sorted(stored_credentials - wanted["credential"]):
            plan.add(Change(REMOVE, "credential", name), _remover(fleet.remove_credential, name))
    return plan


def _remover(remove: Callable[[str], None], name: str) -> Callable[[], None]:
    return lambda: remove(name)


@contextmanager
def _checked(located: Located, *keys: str | int) -> Iterator[None]:
    """Put the file, line and field in front of any refusal raised inside."""
    try:
        yield
    except DefinitionFileError:
        raise
    except SqlfleetError as error:
        raise located.at(*keys).error(located.where(*keys), error.message) from None


# -- credentials ----------------------------------------------------------------------------


def _plan_credential(fleet: Fleet, plan: Plan, located: Located, stored: set[str]) -> None:
    doc = located.item
    with _checked(located, "secret"):
        secret = _read_secret(doc.secret.env, doc.secret.file, located)
    name = doc.name
    if name not in stored:
        with _checked(located):
            limits.check_name("credential", name)
            limits.USERNAME.check(doc.username)
            limits.SECRET.check(secret.reveal())
        plan.add(
            Change(CREATE, "credential", name),
            lambda: fleet.add_credential(name, doc.username, secret),
        )
        return
    username, current = fleet.credential_login(name)
    details = tuple(
        label
        for label, differs in (
            ("username", username != doc.username),
            ("secret", current.reveal() != secret.reveal()),
        )
        if differs
    )
    if not details:
        plan.add(Change(UNCHANGED, "credential", name))
        return
    plan.add(
        Change(CHANGE, "credential", name, details),
        lambda: fleet.update_credential(name, username=doc.username, secret=secret),
    )


def _read_secret(env: str | None, file: str | None, located: Located) -> Secret:
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise InvalidValue(f"environment variable {env} is not set")
        return Secret(value)
    assert file is not None
    path = located.file(file)
    try:
        return Secret(path.read_text(encoding="utf-8").rstrip("\r\n"))
    except UnicodeDecodeError:
        raise InvalidValue(f"the secret file {file} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidValue(f"the secret file {file} cannot be read: {exc.strerror}") from None


# -- target groups --------------------------------------------------------------------------


MemberKey = tuple[
    str, str, str, str | None, str | None, str | None, str | None, str | None, TargetVariables
]


def _member_key(member: Member) -> MemberKey:
    return (
        member.membership.value,
        member.kind.value,
        member.server_url,
        member.database,
        member.database_pattern,
        member.schema_pattern,
        member.shard_map_query,
        member.refresh_credential,
        # In any order: the same variables written in another order change nothing.
        tuple(sorted(member.variables, key=lambda pair: pair[0])),
    )


def _plan_group(fleet: Fleet, plan: Plan, located: Located, stored: dict[str, Any]) -> None:
    doc = located.item
    wanted: list[tuple[MemberKey, dict[str, Any]]] = []
    for i, member in enumerate(doc.members):
        with _checked(located, "members", i):
            checked_url, kind, variables = check_member(**member.model_dump())
        url = str(checked_url)
        options = member.model_dump(exclude={"server"})
        key: MemberKey = (
            "exclude" if member.exclude else "include",
            kind.value,
            url,
            member.database,
            member.database_pattern,
            member.schema_pattern,
            member.shard_map_query,
            member.refresh_credential,
            tuple(sorted(variables, key=lambda pair: pair[0])),
        )
        wanted.append((key, {"server": url, **options}))
    name = doc.name
    group = stored.get(name)
    if group is None:

        def create() -> None:
            fleet.add_target_group(name)
            for _, options in wanted:
                fleet.add_member(name, **options)

        with _checked(located, "name"):
            limits.check_name("target group", name)
        plan.add(Change(CREATE, "target group", name, (f"{len(wanted)} member(s)",)), create)
        return
    have = Counter(_member_key(m) for m in group.members)
    want = Counter(key for key, _ in wanted)
    if have == want:
        plan.add(Change(UNCHANGED, "target group", name))
        return
    extra = have - want
    missing = want - have
    gone = []
    for stored_member in group.members:
        key = _member_key(stored_member)
        if extra[key] > 0:
            extra[key] -= 1
            gone.append(stored_member.id)
    added = []
    for key, options in wanted:
        if missing[key] > 0:
            missing[key] -= 1
            added.append(options)

    def change() -> None:
        for member_id in gone:
            fleet.remove_member(name, member_id)
        for options in added:
            fleet.add_member(name, **options)

    details = (f"{len(added)} member(s) added", f"{len(gone)} removed")
    plan.add(Change(CHANGE, "target group", name, details), change)


# -- jobs -----------------------------------------------------------------------------------


def _plan_job(fleet: Fleet, plan: Plan, located: Located, stored: dict[str, Job]) -> None:
    doc = located.item
    name = doc.name
    with _checked(located, "schedule"):
        schedule = _schedule(doc.schedule)
    steps: list[tuple[str, dict[str, Any]]] = []
    built: list[tuple[str, StepSettings]] = []
    for i, step in enumerate(doc.steps):
        with _checked(located, "steps", i):
            settings = _step_settings(step, located)
            built.append((step.name, build_step_settings(None, dict(settings))))
        steps.append((step.name, settings))
    with _checked(located):
        limits.check_name("job", name)
        limits.DESCRIPTION.check(doc.description)
        if len(doc.steps) > limits.MAX_STEPS:
            raise InvalidValue(f"a job has at most {limits.MAX_STEPS} steps, not {len(doc.steps)}")
    for i, step in enumerate(doc.steps):
        with _checked(located, "steps", i, "name"):
            limits.check_name("step", step.name)
    webhooks = _webhooks(doc, located)
    current = stored.get(name)
    if current is None:
        plan.add(
            Change(CREATE, "job", name, (f"{len(steps)} step(s)",)),
            lambda: fleet.add_job(
                name,
                description=doc.description,
                enabled=doc.enabled,
                schedule=schedule,
                steps=steps,
                webhooks=webhooks,
            ),
        )
        return
    # A schedule without a start time was anchored when it was set: keep that anchor.
    if (
        schedule is not None
        and schedule.start_time is None
        and current.schedule is not None
        and dataclasses.replace(current.schedule, start_time=None) == schedule
    ):
        schedule = current.schedule
    details = tuple(
        label
        for label, differs in (
            ("description", current.description != doc.description),
            ("enabled", current.enabled != doc.enabled),
            ("schedule", current.schedule != schedule),
            ("steps", [(s.name, s.settings) for s in current.steps] != built),
            ("notify", _webhook_values(fleet.webhook_specs(current)) != _webhook_values(webhooks)),
        )
        if differs
    )
    if not details:
        plan.add(Change(UNCHANGED, "job", name))
        return
    plan.add(
        Change(CHANGE, "job", name, details),
        lambda: fleet.replace_job(
            name,
            description=doc.description,
            enabled=doc.enabled,
            schedule=schedule,
            steps=steps,
            webhooks=webhooks,
        ),
    )


def _webhooks(doc: Any, located: Located) -> list[WebhookSpec]:
    """A job's webhooks as written, their URLs and secrets read from the environment."""
    specs = []
    for i, notify in enumerate(doc.notify):
        with _checked(located, "notify", i, "url_env"):
            url = _environment(notify.url_env)
            check_webhook_url(url.reveal())
        secret = None
        if notify.secret_env is not None:
            with _checked(located, "notify", i, "secret_env"):
                secret = _environment(notify.secret_env)
                limits.NOTIFY_SECRET.check(secret.reveal())
        specs.append(WebhookSpec(url, notify.on, secret))
    with _checked(located, "notify"):
        check_webhooks(specs)
    return specs


def _environment(variable: str) -> Secret:
    value = os.environ.get(variable)
    if value is None:
        raise InvalidValue(f"environment variable {variable} is not set")
    return Secret(value)


def _webhook_values(specs: list[WebhookSpec]) -> list[tuple[str, str, str | None]]:
    """What makes webhooks the same: decrypted values, compared, never shown."""
    return [(w.url.reveal(), w.on, None if w.secret is None else w.secret.reveal()) for w in specs]


def _schedule(doc: ScheduleDoc | None) -> Schedule | None:
    if doc is None:
        return None
    return Schedule.parse(
        doc.spec, timezone=doc.timezone, start_time=doc.start_time, end_time=doc.end_time
    )


def _step_settings(step: Any, located: Located) -> dict[str, Any]:
    """What `Fleet.add_step` takes, from a step as written."""
    if (step.command is None) == (step.command_file is None):
        raise InvalidValue("give the script as `command` or `command_file`, one of them")
    values: dict[str, Any] = step.model_dump(
        exclude={"name", "command_file", "output"}, exclude_none=True
    )
    if step.command_file is not None:
        values["command"] = read_command_file(located.file(step.command_file))
    if step.output is not None:
        values["output"] = OutputDestination(
            server_url=step.output.server,
            database=step.output.database,
            table=step.output.table,
            credential=step.output.credential,
            schema=step.output.schema_name,
        )
    return values
