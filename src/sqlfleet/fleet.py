"""The Python API: every operation the CLI, the REST API and the web UI offer.

from sqlfleet import Fleet
fleet = Fleet.open()                       # the job database of SQLFLEET_JOB_DB or the default
fleet.add_credential("tenant_admin", "admin", Secret("s3cret"))
fleet.add_target_group("tenants")
fleet.add_member("tenants", server="postgresql://db1:5432", database_pattern="tenant_*")
fleet.add_job("nightly")
fleet.add_step("nightly", "vacuum", command="VACUUM ANALYZE", target_group="tenants",
               credential="tenant_admin")
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlfleet import config, limits
from sqlfleet.clock import Clock, utcnow
from sqlfleet.engine.dispatcher import Dispatcher, DispatcherSettings
from sqlfleet.engine.preview import preview
from sqlfleet.engine.rerun import check_rerun_states
from sqlfleet.engine.resume import prepare_resume, run_holder_name, take_back_from_the_gone
from sqlfleet.engine.trial import check_trial
from sqlfleet.errors import InvalidServerUrl, InvalidValue, NotFound, SecretKeyError
from sqlfleet.lifecycle import DEFAULT_RERUN_STATES, Lifecycle
from sqlfleet.model import (
    TARGET_SORTS,
    Attempt,
    Credential,
    Job,
    JobExecution,
    JobVersion,
    KeptResult,
    Member,
    MemberKind,
    Membership,
    NotificationDelivery,
    ResultPage,
    StepExecution,
    StepPreview,
    StepSettings,
    Target,
    TargetExecution,
    TargetGroup,
    TargetVariables,
)
from sqlfleet.schedule import Schedule
from sqlfleet.script import validate_command
from sqlfleet.secrets import KEY_ENV, Secret, SecretBox
from sqlfleet.servers import ServerUrl
from sqlfleet.step_settings import build_step_settings, check_script_for_engines, server_url
from sqlfleet.store import (
    UNCHANGED,
    JobStore,
    WebhookTokens,
    announcements,
    check_schema,
    open_engine,
    upgrade_schema,
)
from sqlfleet.store.boundary import Availability
from sqlfleet.store.history import changes_cursor
from sqlfleet.targets import Login
from sqlfleet.targets.resolve import resolve_group
from sqlfleet.variables import check_variables
from sqlfleet.webhooks import WebhookSpec, check_webhooks, mask_webhook_url

# A member's variables as the Python API takes them: a mapping, or (name, value) pairs.
Variables = Mapping[str, str] | Sequence[tuple[str, str]]

SECRET_CHECK_KEY = "secret_check"
SECRET_CHECK_TEXT = "sqlfleet secret check"
# How long a `run` process's claims last without renewal: after it is killed, its targets
# are taken over this long after its last renewal (or at once by `resume` on the same host).
DEFAULT_LEASE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class InitReport:
    """What `Fleet.init` did."""

    job_db: str
    schema_before: str | None
    schema_after: str
    key_source: str
    key_created: bool


class Fleet:
    """sqlfleet on one job database."""

    def __init__(self, store: JobStore, *, clock: Clock = utcnow) -> None:
        self.store = store
        self.clock = clock
        self._secrets: SecretBox | None = None

    @classmethod
    def open(cls, job_db: str | None = None) -> Fleet:
        """Open the job database (`--job-db`, `SQLFLEET_JOB_DB` or the default) and check it."""
        engine = open_engine(config.job_db_url(job_db))
        try:
            check_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(JobStore(engine))

    @classmethod
    def init(cls, job_db: str | None = None) -> InitReport:
        """Create or upgrade the job database and make a secret key if there is none."""
        engine = open_engine(config.job_db_url(job_db), create=True)
        try:
            status = upgrade_schema(engine)
            key_file = config.key_file()
            created = False
            if os.environ.get(KEY_ENV):
                source = f"environment variable {KEY_ENV}"
            else:
                created = SecretBox.create_key_file(key_file)
                source = f"key file {key_file}"
            store = JobStore(engine)
            box = SecretBox.from_environment(key_file)
            check = store.get_meta(SECRET_CHECK_KEY)
            if check is None:
                store.set_meta(SECRET_CHECK_KEY, box.encrypt(Secret(SECRET_CHECK_TEXT)))
            else:
                box.decrypt(check, what="this job database's secrets")
            return InitReport(status.url, status.before, status.after, source, created)
        finally:
            engine.dispose()

    @property
    def availability(self) -> Availability:
        """Whether the job database answers, and how long to wait before asking again."""
        return self.store.availability

    def transaction(self) -> AbstractContextManager[None]:
        """Make the definition changes made inside one transaction: all of them, or none."""
        return self.store.transaction()

    def close(self) -> None:
        """Release the job database."""
        self.store.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- secrets ------------------------------------------------------------------------------

    @property
    def secrets(self) -> SecretBox:
        """The key that encrypts this job database's secrets, checked against it once."""
        if self._secrets is None:
            box = SecretBox.from_environment(config.key_file())
            check = self.store.get_meta(SECRET_CHECK_KEY)
            if check is None:
                raise SecretKeyError("the job database has no secret check: run `sqlfleet init`")
            box.decrypt(check, what="this job database's secrets")
            self._secrets = box
        return self._secrets

    def credential_login(self, name: str) -> tuple[str, Secret]:
        """The user name and the decrypted secret of a credential, for connecting."""
        tokens = self.store.credential_secret_tokens([_stored("credential", name)])
        if name not in tokens:
            self.store.get_credential(name)  # raises NotFound
        username, token = tokens[name]
        return username, self.secrets.decrypt(token, what=f"credential {name!r}")

    def decrypt(self, token: str) -> Secret:
        """A stored secret of a webhook, decrypted: only for sending a notification."""
        return self.secrets.decrypt(token, what="a webhook's URL or secret")

    def _webhook_tokens(self, webhooks: Sequence[WebhookSpec]) -> list[WebhookTokens]:
        """Webhooks checked and encrypted, ready to store."""
        checked = check_webhooks(webhooks)
        return [
            WebhookTokens(
                url_shown=mask_webhook_url(w.url.reveal()),
                url_token=self.secrets.encrypt(w.url),
                on=w.on,
                secret_token=None if w.secret is None else self.secrets.encrypt(w.secret),
            )
            for w in checked
        ]

    def webhook_specs(self, job: Job) -> list[WebhookSpec]:
        """A job version's webhooks decrypted (to compare with a document; never shown)."""
        return [
            WebhookSpec(
                url=self.decrypt(w.url_token),
                on=w.on,
                secret=None if w.secret_token is None else self.decrypt(w.secret_token),
            )
            for w in self.store.webhook_tokens(job.id, job.version)
        ]

    # -- credentials --------------------------------------------------------------------------

    def add_credential(self, name: str, username: str, secret: Secret) -> Credential:
        """Store a credential; its secret is encrypted and never shown again."""
        limits.check_name("credential", name)
        limits.USERNAME.check(username)
        _check_secret(secret)
        return self.store.add_credential(name, username, self.secrets.encrypt(secret))

    def update_credential(
        self, name: str, *, username: str | None = None, secret: Secret | None = None
    ) -> Credential:
        """Change a credential's user name and/or secret."""
        if username is not None:
            limits.USERNAME.check(username)
        if secret is not None:
            _check_secret(secret)
        token = self.secrets.encrypt(secret) if secret is not None else None
        name = _stored("credential", name)
        return self.store.update_credential(name, username=username, secret_token=token)

    def remove_credential(self, name: str) -> None:
        """Delete a credential that no step or member uses."""
        self.store.remove_credential(_stored("credential", name))

    def list_credentials(self) -> list[Credential]:
        """Every credential (never a secret)."""
        return self.store.list_credentials()

    # -- target groups ------------------------------------------------------------------------

    def add_target_group(self, name: str) -> TargetGroup:
        """Create an empty target group."""
        limits.check_name("target group", name)
        return self.store.add_target_group(name)

    def remove_target_group(self, name: str) -> None:
        """Delete a target group that no step uses."""
        self.store.remove_target_group(_stored("target group", name))

    def list_target_groups(self) -> list[TargetGroup]:
        """Every target group with its members."""
        return self.store.list_target_groups()

    def get_target_group(self, name: str) -> TargetGroup:
        """One target group with its members."""
        return self.store.get_target_group(_stored("target group", name))

    def add_member(
        self,
        group: str,
        *,
        server: str,
        database: str | None = None,
        database_pattern: str | None = None,
        schema_pattern: str | None = None,
        shard_map_query: str | None = None,
        refresh_credential: str | None = None,
        exclude: bool = False,
        variables: Variables | None = None,
    ) -> Member:
        """Add a member; its kind follows from the options given.

        server only (optionally a database-name pattern): every database on the server;
        server + database: one database; + schema pattern: its matching schemas;
        server + database + shard-map query: the databases the catalog query names.
        `variables` (name to text) are a database member's own: `$(plan)` in its scripts.
        """
        url, kind, checked = check_member(
            server=server,
            database=database,
            database_pattern=database_pattern,
            schema_pattern=schema_pattern,
            shard_map_query=shard_map_query,
            refresh_credential=refresh_credential,
            exclude=exclude,
            variables=variables,
        )
        return self.store.add_member(
            _stored("target group", group),
            kind=kind,
            membership=Membership.EXCLUDE if exclude else Membership.INCLUDE,
            server_url=str(url),
            database=database,
            database_pattern=database_pattern,
            schema_pattern=schema_pattern,
            shard_map_query=shard_map_query,
            refresh_credential=refresh_credential,
            variables=checked,
        )

    def remove_member(self, group: str, member_id: int) -> None:
        """Take a member out of a group by its id (see `target-group show`)."""
        member_id = limits.ID.check(member_id, label="member id")
        self.store.remove_member(_stored("target group", group), member_id)

    # -- jobs ---------------------------------------------------------------------------------

    def add_job(
        self,
        name: str,
        *,
        description: str = "",
        enabled: bool = False,
        schedule: Schedule | None = None,
        steps: Sequence[tuple[str, dict[str, Any]]] = (),
        webhooks: Sequence[WebhookSpec] = (),
    ) -> Job:
        """Create a job, with its steps (name and settings, as `add_step` takes) and its
        webhooks if given.

        All of it is created, or nothing: a refused step leaves no job behind.
        """
        limits.check_name("job", name)
        built = self._job_steps(description, steps)
        tokens = self._webhook_tokens(webhooks) if webhooks else []
        return self.store.add_job(
            name,
            description=description,
            enabled=enabled,
            schedule=self._anchored(schedule),
            steps=built,
            webhooks=tokens,
        )

    def replace_job(
        self,
        name: str,
        *,
        description: str,
        enabled: bool,
        schedule: Schedule | None,
        steps: Sequence[tuple[str, dict[str, Any]]],
        webhooks: Sequence[WebhookSpec] | None = None,
    ) -> Job:
        """Give a job these settings and exactly these steps (as `add_job` takes them), and
        these webhooks unless None, in one new version."""
        built = self._job_steps(description, steps)
        tokens = None if webhooks is None else self._webhook_tokens(webhooks)
        return self.store.replace_job(
            _stored("job", name),
            description=description,
            enabled=enabled,
            schedule=self._anchored(schedule),
            steps=built,
            webhooks=tokens,
        )

    def _job_steps(
        self, description: str, steps: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[tuple[str, StepSettings]]:
        """A whole job's steps, built and checked (with its description) before any is stored."""
        limits.DESCRIPTION.check(description)
        if len(steps) > limits.MAX_STEPS:
            raise InvalidValue(f"a job has at most {limits.MAX_STEPS} steps, not {len(steps)}")
        for step_name, _ in steps:
            limits.check_name("step", step_name)
        built = [(step_name, build_step_settings(None, dict(s))) for step_name, s in steps]
        for _, settings in built:
            self._check_script(settings)
        return built

    def update_job(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        schedule: Schedule | None = UNCHANGED,
        webhooks: Sequence[WebhookSpec] | None = None,
    ) -> Job:
        """Change a job's settings; pass `schedule=None` to remove its schedule.

        `webhooks` replaces the job's webhooks (`[]` removes them all); None keeps them.
        """
        if new_name is not None:
            limits.check_name("job", new_name)
        if description is not None:
            limits.DESCRIPTION.check(description)
        if schedule is not UNCHANGED:
            schedule = self._anchored(schedule)
        tokens = None if webhooks is None else self._webhook_tokens(webhooks)
        return self.store.update_job(
            _stored("job", name),
            new_name=new_name,
            description=description,
            enabled=enabled,
            schedule=schedule,
            webhooks=tokens,
        )

    def _anchored(self, schedule: Schedule | None) -> Schedule | None:
        """A schedule without a start time starts when it is set: nothing earlier is due."""
        if schedule is None or schedule.start_time is not None:
            return schedule
        return dataclasses.replace(schedule, start_time=self.clock())

    def remove_job(self, name: str, *, force: bool = False) -> None:
        """Delete a job and its history; `force` also removes it while executions are active."""
        self.store.remove_job(_stored("job", name), force=force)

    def list_jobs(self) -> list[Job]:
        """Every job at its current version."""
        return self.store.list_jobs()

    def get_job(self, name: str, version: int | None = None) -> Job:
        """One job at its current version, or at `version`."""
        if version is not None:
            limits.VERSION.check(version)
        return self.store.get_job(_stored("job", name), version)

    def job_versions(self, name: str) -> list[JobVersion]:
        """The versions of a job."""
        return self.store.job_versions(_stored("job", name))

    # -- steps --------------------------------------------------------------------------------

    def add_step(self, job: str, name: str, **settings: Any) -> Job:
        """Append a step. Settings are `StepSettings` fields and the retry policy's fields."""
        limits.check_name("step", name)
        built = build_step_settings(None, settings)
        self._check_script(built)
        return self.store.add_step(_stored("job", job), name, built)

    def update_step(
        self, job: str, name: str, *, new_name: str | None = None, **changes: Any
    ) -> Job:
        """Change some settings of a step; the others keep their values."""
        if new_name is not None:
            limits.check_name("step", new_name)
        current = self.get_job(job).step(_stored("step", name))
        if current is None:
            raise NotFound(f"job {job!r} has no step named {name!r}")
        settings = build_step_settings(current.settings, changes)
        self._check_script(settings)
        return self.store.update_step(job, name, settings, new_name=new_name)

    def _check_script(self, settings: StepSettings) -> None:
        """Read the script as the clients of the step's target engines will read it."""
        try:
            group = self.store.get_target_group(_stored("target group", settings.target_group))
        except NotFound:
            return  # the store says so, in the words it uses for every step
        engines = set()
        for member in group.members:
            try:
                engines.add(ServerUrl.parse(member.server_url).engine)
            except InvalidServerUrl:
                continue
        check_script_for_engines(settings, engines)

    def remove_step(self, job: str, name: str) -> Job:
        """Remove a step from a job."""
        return self.store.remove_step(_stored("job", job), _stored("step", name))

    def move_step(self, job: str, name: str, position: int) -> Job:
        """Move a step to `position` (1 is first), making a new version."""
        limits.ID.check(position, label="position")
        return self.store.move_step(_stored("job", job), _stored("step", name), position)

    # -- targets and executions -----------------------------------------------------------------

    async def resolve_target_group(
        self, name: str, *, credential: str | None = None
    ) -> list[Target]:
        """What a target group resolves to right now, without running anything.

        Members are enumerated with their refresh credential, else with `credential`.
        """
        group = self.get_target_group(name)
        names = {m.refresh_credential for m in group.members if m.refresh_credential}
        logins = {n: Login(*self.credential_login(n)) for n in names}
        default = Login(*self.credential_login(credential)) if credential else None
        return await resolve_group(group, default_login=default, logins=logins)

    async def preview(self, job: str, *, preflight: bool = False) -> list[StepPreview]:
        """What `job` would run where, rendered per target now; nothing runs or is recorded.

        With `preflight`, every target is also logged in to with its step's credential.
        """
        definition = self.get_job(job)
        self.secrets  # noqa: B018 -- a wrong key fails here, before any server is asked
        return await preview(
            definition, self.get_target_group, self.credential_login, preflight=preflight
        )

    def create_execution(
        self, job: str, *, trigger: str = "manual", trial: bool = False
    ) -> JobExecution:
        """Create an execution of the job's current version for an agent (or `run`) to run.

        A `trial` runs each target's batches in a transaction that is rolled back; it is
        refused when a step's targets are on MySQL/MariaDB, whose DDL commits at once.
        """
        job = _stored("job", job)
        if trial:
            check_trial(self.get_job(job), self.get_target_group)
        execution_id = self.store.create_execution(
            job, trigger=trigger, now=self.clock(), trial=trial
        )
        return self.store.get_execution(execution_id)

    def rerun(
        self, execution_id: int, *, states: Sequence[Lifecycle] = DEFAULT_RERUN_STATES
    ) -> JobExecution:
        """A new execution of the same job version, on the targets that ended in `states`."""
        limits.ID.check(execution_id, label="execution id")
        states = check_rerun_states(states)
        new_id = self.store.create_rerun(execution_id, states, now=self.clock())
        return self.store.get_execution(new_id)

    async def run(
        self,
        job: str,
        *,
        concurrency: int = 100,
        on_created: Callable[[JobExecution], None] | None = None,
        stop: asyncio.Event | None = None,
        lease: timedelta = DEFAULT_LEASE,
        trial: bool = False,
        web_url: str | None = None,
    ) -> JobExecution:
        """Create an execution of `job` and run it in this process until it ends.

        Setting `stop` cancels it: running statements are canceled, targets end Canceled.
        A `trial` rolls back each target's transaction (see `create_execution`). Its
        notifications are sent from here, waiting a few seconds at most once it ended;
        `web_url` (the web UI's address) makes their links absolute.
        """
        limits.CONCURRENCY.check(concurrency)
        web_url = config.web_url(web_url)
        self.secrets  # noqa: B018 -- a wrong key fails here, before anything is created
        execution = self.create_execution(job, trigger="run", trial=trial)
        if on_created is not None:
            on_created(execution)
        return await self.run_execution(
            execution.id, concurrency=concurrency, stop=stop, lease=lease, web_url=web_url
        )

    async def run_execution(
        self,
        execution_id: int,
        *,
        concurrency: int = 100,
        stop: asyncio.Event | None = None,
        lease: timedelta = DEFAULT_LEASE,
        web_url: str | None = None,
    ) -> JobExecution:
        """Run an existing execution in this process until it ends (or `stop` cancels it)."""
        limits.CONCURRENCY.check(concurrency)
        limits.ID.check(execution_id, label="execution id")
        web_url = config.web_url(web_url)
        dispatcher = Dispatcher(
            self.store,
            self.credential_login,
            agent_name=run_holder_name(),
            settings=DispatcherSettings(concurrency=concurrency, lease=lease, web_url=web_url),
            clock=self.clock,
            job_execution_id=execution_id,
            decrypt=self.decrypt,
        )
        return await dispatcher.run_execution(stop)

    def prepare_resume(self, execution_id: int) -> list[str]:
        """Check that an execution whose runner went away can be resumed here; see `resume`.

        Takes back at once what holders known to be gone had; raises InvalidValue when the
        execution ended or a live agent runs it; returns notes on leases still to run out.
        """
        return prepare_resume(self.store, execution_id, now=self.clock())

    def stop(self, execution_id: int) -> JobExecution:
        """Cancel an execution: nothing more starts; running statements are canceled.

        Targets whose holder is gone (its lease expired, or its process on this host ended)
        end Canceled at once; live holders cancel theirs.
        """
        limits.ID.check(execution_id, label="execution id")
        try:
            self.store.cancel_execution(execution_id, now=self.clock())
        except InvalidValue:
            # Already Canceled: a stop repeated still ends what gone holders left.
            if not take_back_from_the_gone(self.store, execution_id, now=self.clock()):
                raise
        else:
            take_back_from_the_gone(self.store, execution_id, now=self.clock())
        return self.store.get_execution(execution_id)

    async def listen_for_changes(
        self, on_change: Callable[[announcements.ExecutionChange], None]
    ) -> None:
        """Hand each job execution change the job database announces to `on_change`, until
        canceled (PostgreSQL only: on SQLite this returns at once, and polling does)."""
        await announcements.listen(self.store.engine, on_change)

    def get_execution(self, execution_id: int) -> JobExecution:
        """One execution with its target counts per state."""
        limits.ID.check(execution_id, label="execution id")
        return self.store.get_execution(execution_id)

    def _require_execution(self, execution_id: int) -> None:
        # Cheaper than get_execution, which counts the targets per state.
        limits.ID.check(execution_id, label="execution id")
        self.store.require_execution(execution_id)

    def list_executions(
        self,
        *,
        job: str | None = None,
        count: int | None = None,
        active: bool = False,
        lifecycle: str | None = None,
        offset: int = 0,
    ) -> list[JobExecution]:
        """Executions, newest first."""
        if count is not None:
            limits.COUNT.check(count)
        limits.OFFSET.check(offset)
        state = parse_lifecycle(lifecycle) if lifecycle is not None else None
        if job is not None:
            job = _stored("job", job)
        return self.store.list_executions(
            job=job, count=count, active=active, lifecycle=state, offset=offset
        )

    def list_deliveries(self, execution_id: int) -> list[NotificationDelivery]:
        """The notifications of an execution to its job's webhooks, and how each went."""
        self._require_execution(execution_id)
        return self.store.list_deliveries(execution_id)

    def list_step_executions(self, execution_id: int) -> list[StepExecution]:
        """The steps of an execution."""
        self._require_execution(execution_id)
        return self.store.list_step_executions(execution_id)

    def list_target_executions(
        self,
        execution_id: int,
        *,
        lifecycle: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        search: str | None = None,
        sort: str = "step",
        descending: bool = False,
        changed_since: datetime | None = None,
    ) -> list[TargetExecution]:
        """The targets of an execution: filtered by state and name, sorted, one page."""
        self._require_execution(execution_id)
        if limit is not None:
            limits.COUNT.check(limit, label="limit")
        limits.OFFSET.check(offset)
        states = [parse_lifecycle(s) for s in lifecycle] if lifecycle else None
        if changed_since is not None:
            limits.check_time("since", changed_since)
        return self.store.list_target_executions(
            execution_id,
            lifecycle=states,
            limit=limit,
            offset=offset,
            search=_search(search),
            sort=_sort(sort),
            descending=descending,
            changed_since=changed_since,
        )

    def count_target_executions(
        self,
        execution_id: int,
        *,
        lifecycle: Sequence[str] | None = None,
        search: str | None = None,
    ) -> int:
        """How many targets of an execution match the state and name filter."""
        limits.ID.check(execution_id, label="execution id")
        states = [parse_lifecycle(s) for s in lifecycle] if lifecycle else None
        return self.store.count_target_executions(
            execution_id, lifecycle=states, search=_search(search)
        )

    def target_changes_cursor(self) -> datetime:
        """Where the next look for changed targets should start (see the store's verb)."""
        return changes_cursor()

    def get_target_execution(self, execution_id: int, target_execution_id: int) -> TargetExecution:
        """One target execution of an execution."""
        limits.ID.check(execution_id, label="execution id")
        limits.ID.check(target_execution_id, label="target execution id")
        found = self.store.list_target_executions(
            execution_id, target_execution_id=target_execution_id
        )
        if not found:
            raise NotFound(
                f"execution {execution_id} has no target execution {target_execution_id}"
            )
        return found[0]

    def retry_now(self, execution_id: int, target_execution_id: int) -> TargetExecution:
        """Let a target that waits for its next attempt (WaitingForRetry) try again now."""
        self.get_target_execution(execution_id, target_execution_id)  # NotFound if not there
        self.store.retry_now(target_execution_id, now=self.clock())
        return self.get_target_execution(execution_id, target_execution_id)

    def get_credential(self, name: str) -> Credential:
        """One credential (never its secret)."""
        return self.store.get_credential(_stored("credential", name))

    def list_attempts(self, target_execution_id: int) -> list[Attempt]:
        """Every attempt of one target execution."""
        limits.ID.check(target_execution_id, label="target execution id")
        return self.store.list_attempts(target_execution_id)

    def execution_results(
        self,
        execution_id: int,
        *,
        step: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> ResultPage:
        """Kept result rows of an execution (or of its step `step`), merged across targets."""
        self.get_execution(execution_id)
        limits.OFFSET.check(offset)
        if limit is not None:
            limits.COUNT.check(limit, label="limit")
        step = None if step is None else _stored("step", step)
        return self.store.result_page(execution_id, step=step, offset=offset, limit=limit)

    def target_result(self, execution_id: int, target_execution_id: int) -> KeptResult | None:
        """The rows one target kept, if its step kept any."""
        target = self.get_target_execution(execution_id, target_execution_id)
        return self.store.target_result(target.id)

    def list_execution_attempts(
        self, execution_id: int, target_execution_ids: Sequence[int]
    ) -> dict[int, list[Attempt]]:
        """The attempts of some targets of an execution, by target execution id."""
        limits.ID.check(execution_id, label="execution id")
        return self.store.list_execution_attempts(execution_id, target_execution_ids)

    def purge(self, *, older_than_days: float = 45, job: str | None = None) -> int:
        """Delete ended executions older than the retention; how many were deleted."""
        older_than_days = limits.OLDER_THAN_DAYS.check(older_than_days)
        before = self.clock() - timedelta(days=older_than_days)
        job = None if job is None else _stored("job", job)
        return self.store.purge(before=before, job=job)


def parse_lifecycle(text: str) -> Lifecycle:
    """A lifecycle state from its name, case-insensitively, with a clear error."""
    for state in Lifecycle:
        if state.value.lower() == text.lower():
            return state
    names = ", ".join(s.value for s in Lifecycle)
    raise InvalidValue(f"unknown lifecycle state {text!r}: use one of {names}")


def _search(text: str | None) -> str | None:
    if not text:
        return None
    return limits.SEARCH.check(text)


def _sort(name: str) -> str:
    if name not in TARGET_SORTS:
        raise InvalidValue(f"sort must be one of {', '.join(TARGET_SORTS)}, not {name!r}")
    return name


def _stored(what: str, name: str) -> str:
    """A name to look up: one that could be stored, else InvalidValue (no database error).

    Only storability is checked, not today's naming rules: a name stored before them must
    stay reachable, if only to rename or remove it.
    """
    if not isinstance(name, str):
        raise InvalidValue(f"the {what} name must be text, not {name!r}")
    return limits.check_storable(f"{what} name", name)


def _check_secret(secret: Secret) -> None:
    # The value stays out of the message: it is a secret even when it is malformed.
    limits.SECRET.check(secret.reveal())


def check_member(
    *,
    server: str,
    database: str | None = None,
    database_pattern: str | None = None,
    schema_pattern: str | None = None,
    shard_map_query: str | None = None,
    refresh_credential: str | None = None,
    exclude: bool = False,
    variables: Variables | None = None,
) -> tuple[ServerUrl, MemberKind, TargetVariables]:
    """A member's server, kind and variables, once every value is checked; InvalidValue
    otherwise."""
    url = server_url("server URL", server)
    kind = member_kind(database, database_pattern, schema_pattern, shard_map_query)
    for limit, label, value in (
        (limits.IDENTIFIER, "database", database),
        (limits.PATTERN, "database pattern", database_pattern),
        (limits.PATTERN, "schema pattern", schema_pattern),
    ):
        if value is not None:
            limit.check(value, label=label)
    if refresh_credential is not None:
        limits.check_name("refresh credential", refresh_credential)
    if shard_map_query is not None:
        limits.SCRIPT.check(shard_map_query, label="shard-map query")
        validate_command(shard_map_query)
    return url, kind, _member_variables(kind, exclude, variables)


def _member_variables(
    kind: MemberKind, exclude: bool, variables: Variables | None
) -> TargetVariables:
    if not variables:
        return ()
    if kind is not MemberKind.DATABASE:
        where = (
            "come from its query's columns other than database, server and schema"
            if kind is MemberKind.SHARD_MAP
            else "can be given to a database member only (--server and --database)"
        )
        raise InvalidValue(f"a {kind.value} member takes no variables: its variables {where}")
    if exclude:
        raise InvalidValue(
            "an exclude member takes no variables: excluding a database excludes it whatever "
            "its variables"
        )
    if not isinstance(variables, Mapping | list | tuple):
        raise InvalidValue(f"variables must be names and values, not {limits.shown(variables)}")
    pairs = variables.items() if isinstance(variables, Mapping) else variables
    return check_variables(pairs)


def member_kind(
    database: str | None,
    database_pattern: str | None,
    schema_pattern: str | None,
    shard_map_query: str | None,
) -> MemberKind:
    """The kind of member the options given make; InvalidValue when they make none."""
    if shard_map_query is not None:
        if database is None:
            raise InvalidValue("a shard-map member needs --database: the catalog database")
        if database_pattern is not None or schema_pattern is not None:
            raise InvalidValue("a shard-map member takes no --database-pattern or --schema-pattern")
        return MemberKind.SHARD_MAP
    if schema_pattern is not None:
        if database is None:
            raise InvalidValue("a schema member needs --database: the database holding the schemas")
        if database_pattern is not None:
            raise InvalidValue("a schema member takes --database, not --database-pattern")
        return MemberKind.SCHEMA
    if database is not None:
        if database_pattern is not None:
            raise InvalidValue("give --database or --database-pattern, not both")
        return MemberKind.DATABASE
    return MemberKind.SERVER
