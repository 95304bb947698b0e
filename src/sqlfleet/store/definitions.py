"""The job database's definition verbs: credentials, target groups, jobs, steps, versions.

Every verb is one transaction: a failed command leaves what was stored unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sqlfleet.errors import ConcurrentChange, DuplicateName, InUse, InvalidValue, NotFound
from sqlfleet.lifecycle import ACTIVE
from sqlfleet.model import (
    UNCHANGED,
    Credential,
    Job,
    JobVersion,
    Member,
    MemberKind,
    Membership,
    OutputDestination,
    Step,
    StepSettings,
    TargetGroup,
    TargetVariables,
)
from sqlfleet.retry import RetryPolicy
from sqlfleet.schedule import Schedule
from sqlfleet.store import tables as t
from sqlfleet.store.webhooks import WebhookTokens, copy_webhooks, read_webhooks, save_webhooks
from sqlfleet.variables import from_json, to_json


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


class DefinitionStore:
    """Stores and reads definitions. Secrets arrive here already encrypted."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The connection of a transaction that several verbs share (see `transaction`).
        self._shared: ContextVar[Connection | None] = ContextVar(
            f"sqlfleet-store-{id(self)}", default=None
        )

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A connection in a transaction: the shared one, or a new one committed at the end."""
        shared = self._shared.get()
        if shared is not None:
            yield shared
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection to read with: the shared one (to see its changes), or a new one."""
        shared = self._shared.get()
        if shared is not None:
            yield shared
            return
        with self.engine.connect() as conn:
            yield conn

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite job database."""
        return self.engine.dialect.name == "sqlite"

    # -- credentials ------------------------------------------------------------------------

    def add_credential(self, name: str, username: str, secret_token: str) -> Credential:
        """Store a new credential; its secret is an encrypted token."""
        now = utcnow()
        with self._begin() as conn:
            taken = f"a credential named {name!r} already exists"
            if self._credential_row(conn, name) is not None:
                raise DuplicateName(taken)
            with _duplicate_as(taken):
                conn.execute(
                    insert(t.credential).values(
                        name=name,
                        username=username,
                        secret_token=secret_token,
                        created_at=now,
                        updated_at=now,
                    )
                )
            return _credential(self._require_credential(conn, name))

    def update_credential(
        self, name: str, *, username: str | None = None, secret_token: str | None = None
    ) -> Credential:
        """Change a credential's user name and/or secret."""
        values: dict[str, Any] = {"updated_at": utcnow()}
        if username is not None:
            values["username"] = username
        if secret_token is not None:
            values["secret_token"] = secret_token
        with self._begin() as conn:
            row = self._require_credential(conn, name)
            conn.execute(update(t.credential).where(t.credential.c.id == row.id).values(values))
            return _credential(self._require_credential(conn, name))

    def remove_credential(self, name: str) -> None:
        """Delete a credential that nothing uses."""
        with self._begin() as conn:
            row = self._require_credential(conn, name)
            user = conn.execute(
                select(t.job.c.name, t.job_step.c.job_version)
                .join(t.job, t.job.c.id == t.job_step.c.job_id)
                .where(
                    (t.job_step.c.credential_id == row.id)
                    | (t.job_step.c.output_credential_id == row.id)
                )
                .limit(1)
            ).first()
            if user is not None:
                raise InUse(
                    f"credential {name!r} is used by job {user.name!r} (version "
                    f"{user.job_version}): remove the job or change its steps first"
                )
            member = conn.execute(
                select(t.target_group.c.name)
                .join(t.target_group_member)
                .where(t.target_group_member.c.refresh_credential_id == row.id)
                .limit(1)
            ).first()
            if member is not None:
                raise InUse(
                    f"credential {name!r} is the refresh credential of a member of target "
                    f"group {member.name!r}"
                )
            conn.execute(delete(t.credential).where(t.credential.c.id == row.id))

    def list_credentials(self) -> list[Credential]:
        """Every credential, by name."""
        with self._connect() as conn:
            rows = conn.execute(select(t.credential).order_by(t.credential.c.name))
            return [_credential(row) for row in rows]

    def get_credential(self, name: str) -> Credential:
        """The credential called `name`."""
        with self._connect() as conn:
            return _credential(self._require_credential(conn, name))

    def credential_secret_tokens(self, names: Iterable[str]) -> dict[str, tuple[str, str]]:
        """User name and encrypted secret of each named credential, for connecting."""
        with self._connect() as conn:
            rows = conn.execute(
                select(
                    t.credential.c.name, t.credential.c.username, t.credential.c.secret_token
                ).where(t.credential.c.name.in_(list(names)))
            )
            return {row.name: (row.username, row.secret_token) for row in rows}

    def _credential_row(self, conn: Connection, name: str) -> Row[Any] | None:
        return conn.execute(select(t.credential).where(t.credential.c.name == name)).first()

    def _require_credential(self, conn: Connection, name: str) -> Row[Any]:
        row = self._credential_row(conn, name)
        if row is None:
            raise NotFound(f"no credential named {name!r}")
        return row

    # -- target groups ----------------------------------------------------------------------

    def add_target_group(self, name: str) -> TargetGroup:
        """Create an empty target group."""
        with self._begin() as conn:
            taken = f"a target group named {name!r} already exists"
            if self._group_row(conn, name) is not None:
                raise DuplicateName(taken)
            with _duplicate_as(taken):
                conn.execute(insert(t.target_group).values(name=name, created_at=utcnow()))
            return self._group(conn, self._require_group(conn, name))

    def remove_target_group(self, name: str) -> None:
        """Delete a target group that no job step uses."""
        with self._begin() as conn:
            row = self._require_group(conn, name)
            user = conn.execute(
                select(t.job.c.name, t.job_step.c.job_version)
                .join(t.job, t.job.c.id == t.job_step.c.job_id)
                .where(t.job_step.c.target_group_id == row.id)
                .limit(1)
            ).first()
            if user is not None:
                raise InUse(
                    f"target group {name!r} is used by job {user.name!r} (version "
                    f"{user.job_version}): remove the job or change its steps first"
                )
            conn.execute(delete(t.target_group).where(t.target_group.c.id == row.id))

    def list_target_groups(self) -> list[TargetGroup]:
        """Every target group with its members, by name."""
        with self._connect() as conn:
            rows = conn.execute(select(t.target_group).order_by(t.target_group.c.name)).all()
            return [self._group(conn, row) for row in rows]

    def get_target_group(self, name: str) -> TargetGroup:
        """The target group called `name`, with its members."""
        with self._connect() as conn:
            return self._group(conn, self._require_group(conn, name))

    def add_member(
        self,
        group: str,
        *,
        kind: MemberKind,
        membership: Membership,
        server_url: str,
        database: str | None = None,
        database_pattern: str | None = None,
        schema_pattern: str | None = None,
        shard_map_query: str | None = None,
        refresh_credential: str | None = None,
        variables: TargetVariables = (),
    ) -> Member:
        """Add a member to a target group; the values are validated by the caller."""
        with self._begin() as conn:
            group_row = self._require_group(conn, group)
            refresh_id = None
            if refresh_credential is not None:
                refresh_id = self._require_credential(conn, refresh_credential).id
            member_id = conn.execute(
                insert(t.target_group_member)
                .values(
                    target_group_id=group_row.id,
                    membership=membership.value,
                    kind=kind.value,
                    server_url=server_url,
                    database_name=database,
                    database_pattern=database_pattern,
                    schema_pattern=schema_pattern,
                    shard_map_query=shard_map_query,
                    refresh_credential_id=refresh_id,
                    created_at=utcnow(),
                    variables=to_json(variables),
                )
                .returning(t.target_group_member.c.id)
            ).scalar_one()
            members = self._group(conn, group_row).members
            return next(m for m in members if m.id == member_id)

    def remove_member(self, group: str, member_id: int) -> None:
        """Take a member out of a target group."""
        with self._begin() as conn:
            group_row = self._require_group(conn, group)
            deleted = conn.execute(
                delete(t.target_group_member).where(
                    t.target_group_member.c.id == member_id,
                    t.target_group_member.c.target_group_id == group_row.id,
                )
            ).rowcount
            if not deleted:
                raise NotFound(f"target group {group!r} has no member {member_id}")

    def _group_row(self, conn: Connection, name: str) -> Row[Any] | None:
        return conn.execute(select(t.target_group).where(t.target_group.c.name == name)).first()

    def _require_group(self, conn: Connection, name: str) -> Row[Any]:
        row = self._group_row(conn, name)
        if row is None:
            raise NotFound(f"no target group named {name!r}")
        return row

    def _group(self, conn: Connection, row: Row[Any]) -> TargetGroup:
        m = t.target_group_member
        rows = conn.execute(
            select(m, t.credential.c.name.label("refresh_credential"))
            .outerjoin(t.credential, t.credential.c.id == m.c.refresh_credential_id)
            .where(m.c.target_group_id == row.id)
            .order_by(m.c.id)
        )
        members = tuple(
            Member(
                id=r.id,
                kind=MemberKind(r.kind),
                membership=Membership(r.membership),
                server_url=r.server_url,
                database=r.database_name,
                database_pattern=r.database_pattern,
                schema_pattern=r.schema_pattern,
                shard_map_query=r.shard_map_query,
                refresh_credential=r.refresh_credential,
                variables=from_json(r.variables),
            )
            for r in rows
        )
        return TargetGroup(id=row.id, name=row.name, members=members)

    # -- jobs ---------------------------------------------------------------------------------

    def add_job(
        self,
        name: str,
        *,
        description: str = "",
        enabled: bool = False,
        schedule: Schedule | None = None,
        steps: Sequence[tuple[str, StepSettings]] = (),
        webhooks: Sequence[WebhookTokens] = (),
    ) -> Job:
        """Create a job at version 1, with its steps and webhooks if given: all of it, or
        nothing."""
        now = utcnow()
        names = [step_name for step_name, _ in steps]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise DuplicateName(f"job {name!r} would have two steps named {duplicate!r}")
        with self._begin() as conn:
            if self._job_row(conn, name) is not None:
                raise DuplicateName(f"a job named {name!r} already exists")
            with _duplicate_as(f"a job named {name!r} already exists"):
                job_id = conn.execute(
                    insert(t.job)
                    .values(
                        name=name,
                        description=description,
                        enabled=enabled,
                        current_version=1,
                        created_at=now,
                        updated_at=now,
                        **_schedule_values(schedule),
                    )
                    .returning(t.job.c.id)
                ).scalar_one()
            conn.execute(insert(t.job_version).values(job_id=job_id, version=1, created_at=now))
            save_webhooks(conn, job_id, 1, webhooks)
            if steps:
                conn.execute(
                    insert(t.job_step),
                    [
                        {
                            "job_id": job_id,
                            "job_version": 1,
                            "step_id": number,
                            "step_name": step_name,
                            **self._settings_values(conn, settings),
                        }
                        for number, (step_name, settings) in enumerate(steps, start=1)
                    ],
                )
            return self._job(conn, self._require_job(conn, name))

    def update_job(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        schedule: Schedule | None = UNCHANGED,
        webhooks: Sequence[WebhookTokens] | None = None,
    ) -> Job:
        """Change a job's own settings; this makes a new version.

        `webhooks` replaces the job's webhooks (`[]` removes them); None keeps them.
        """
        with self._begin() as conn:
            row = self._require_job(conn, name)
            values: dict[str, Any] = {}
            if new_name is not None and new_name != name:
                if self._job_row(conn, new_name) is not None:
                    raise DuplicateName(f"a job named {new_name!r} already exists")
                values["name"] = new_name
            if description is not None:
                values["description"] = description
            if enabled is not None:
                values["enabled"] = enabled
            if schedule is not UNCHANGED:
                values.update(_schedule_values(schedule))
                values["last_fire_time"] = None
            steps = [_step_values(r) for r in self._step_rows(conn, row.id, row.current_version)]
            renaming = "name" in values
            taken = f"a job named {new_name!r} already exists"
            with _duplicate_as(taken) if renaming else nullcontext():
                self._new_version(conn, row, steps, values, webhooks=webhooks)
            return self._job(conn, self._require_job(conn, values.get("name", name)))

    def replace_job(
        self,
        name: str,
        *,
        description: str,
        enabled: bool,
        schedule: Schedule | None,
        steps: Sequence[tuple[str, StepSettings]],
        webhooks: Sequence[WebhookTokens] | None = None,
    ) -> Job:
        """Give a job these settings and exactly these steps (and these webhooks, unless
        None), in one new version."""
        names = [step_name for step_name, _ in steps]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise DuplicateName(f"job {name!r} would have two steps named {duplicate!r}")
        with self._begin() as conn:
            row = self._require_job(conn, name)
            values: dict[str, Any] = {"description": description, "enabled": enabled}
            scheduled = _schedule_values(schedule)
            if any(getattr(row, column) != value for column, value in scheduled.items()):
                values.update(scheduled, last_fire_time=None)
            step_values = [
                {"step_name": step_name, **self._settings_values(conn, settings)}
                for step_name, settings in steps
            ]
            self._new_version(conn, row, step_values, values, webhooks=webhooks)
            return self._job(conn, self._require_job(conn, name))

    def remove_job(self, name: str, *, force: bool = False) -> None:
        """Delete a job with its versions and history; refuse while it runs unless forced."""
        with self._begin() as conn:
            row = self._require_job(conn, name)
            active = conn.execute(
                select(func.count())
                .select_from(t.job_execution)
                .where(
                    t.job_execution.c.job_id == row.id,
                    t.job_execution.c.lifecycle.in_([s.value for s in ACTIVE]),
                )
            ).scalar_one()
            if active and not force:
                raise InUse(
                    f"job {name!r} has {active} active execution(s): stop them first, "
                    "or remove it with --force"
                )
            conn.execute(delete(t.job).where(t.job.c.id == row.id))

    def list_jobs(self) -> list[Job]:
        """Every job at its current version, by name."""
        with self._connect() as conn:
            rows = conn.execute(select(t.job).order_by(t.job.c.name)).all()
            return [self._job(conn, row) for row in rows]

    def get_job(self, name: str, version: int | None = None) -> Job:
        """The job called `name`, at its current version or the one given."""
        with self._connect() as conn:
            row = self._require_job(conn, name)
            if (
                version is not None
                and not conn.execute(
                    select(t.job_version.c.version).where(
                        t.job_version.c.job_id == row.id, t.job_version.c.version == version
                    )
                ).first()
            ):
                raise NotFound(f"job {name!r} has no version {version}")
            return self._job(conn, row, version)

    def get_job_by_id(self, job_id: int, version: int) -> Job:
        """A job by id at one version (what an execution pinned)."""
        with self._connect() as conn:
            row = conn.execute(select(t.job).where(t.job.c.id == job_id)).first()
            if row is None:
                raise NotFound(f"no job with id {job_id}")
            return self._job(conn, row, version)

    def job_versions(self, name: str) -> list[JobVersion]:
        """Every version of a job, oldest first."""
        with self._connect() as conn:
            row = self._require_job(conn, name)
            rows = conn.execute(
                select(t.job_version)
                .where(t.job_version.c.job_id == row.id)
                .order_by(t.job_version.c.version)
            )
            return [JobVersion(r.job_id, r.version, r.created_at) for r in rows]

    # -- steps --------------------------------------------------------------------------------

    def add_step(self, job: str, name: str, settings: StepSettings) -> Job:
        """Append a step to a job; this makes a new version."""
        with self._begin() as conn:
            row = self._require_job(conn, job)
            steps = [_step_values(r) for r in self._step_rows(conn, row.id, row.current_version)]
            if any(s["step_name"] == name for s in steps):
                raise DuplicateName(f"job {job!r} already has a step named {name!r}")
            steps.append({"step_name": name, **self._settings_values(conn, settings)})
            self._new_version(conn, row, steps)
            return self._job(conn, self._require_job(conn, job))

    def update_step(
        self, job: str, name: str, settings: StepSettings, *, new_name: str | None = None
    ) -> Job:
        """Replace a step's settings (and maybe its name); this makes a new version."""
        with self._begin() as conn:
            row = self._require_job(conn, job)
            steps = [_step_values(r) for r in self._step_rows(conn, row.id, row.current_version)]
            index = next((i for i, s in enumerate(steps) if s["step_name"] == name), None)
            if index is None:
                raise NotFound(f"job {job!r} has no step named {name!r}")
            if new_name and new_name != name and any(s["step_name"] == new_name for s in steps):
                raise DuplicateName(f"job {job!r} already has a step named {new_name!r}")
            steps[index] = {
                "step_name": new_name or name,
                **self._settings_values(conn, settings),
            }
            self._new_version(conn, row, steps)
            return self._job(conn, self._require_job(conn, job))

    def remove_step(self, job: str, name: str) -> Job:
        """Remove a step; the later steps move up. This makes a new version."""
        with self._begin() as conn:
            row = self._require_job(conn, job)
            steps = [_step_values(r) for r in self._step_rows(conn, row.id, row.current_version)]
            kept = [s for s in steps if s["step_name"] != name]
            if len(kept) == len(steps):
                raise NotFound(f"job {job!r} has no step named {name!r}")
            self._new_version(conn, row, kept)
            return self._job(conn, self._require_job(conn, job))

    def move_step(self, job: str, name: str, position: int) -> Job:
        """Move a step to `position` (1 is first); the others keep their order. A new version."""
        with self.engine.begin() as conn:
            row = self._require_job(conn, job)
            steps = [_step_values(r) for r in self._step_rows(conn, row.id, row.current_version)]
            index = next((i for i, s in enumerate(steps) if s["step_name"] == name), None)
            if index is None:
                raise NotFound(f"job {job!r} has no step named {name!r}")
            if not 1 <= position <= len(steps):
                raise InvalidValue(
                    f"job {job!r} has {len(steps)} step(s): position must be 1 to {len(steps)}"
                )
            if index == position - 1:
                return self._job(conn, row)
            steps.insert(position - 1, steps.pop(index))
            self._new_version(conn, row, steps)
            return self._job(conn, self._require_job(conn, job))

    def _new_version(
        self,
        conn: Connection,
        job_row: Row[Any],
        steps: list[dict[str, Any]],
        job_values: Mapping[str, Any] | None = None,
        *,
        webhooks: Sequence[WebhookTokens] | None = None,
    ) -> int:
        """Make the next version of a job with these steps; its webhooks are `webhooks`, or
        (None) those of the version before."""
        now = utcnow()
        version: int = job_row.current_version + 1
        # Guarded: if someone else made a version meanwhile, this updates nothing.
        moved = conn.execute(
            update(t.job)
            .where(t.job.c.id == job_row.id, t.job.c.current_version == job_row.current_version)
            .values(current_version=version, updated_at=now, **(job_values or {}))
        ).rowcount
        if not moved:
            raise ConcurrentChange(f"job {job_row.name!r} was changed meanwhile: try again")
        conn.execute(
            insert(t.job_version).values(job_id=job_row.id, version=version, created_at=now)
        )
        if steps:
            conn.execute(
                insert(t.job_step),
                [
                    {**s, "job_id": job_row.id, "job_version": version, "step_id": i}
                    for i, s in enumerate(steps, start=1)
                ],
            )
        if webhooks is None:
            copy_webhooks(conn, job_row.id, job_row.current_version, version)
        else:
            save_webhooks(conn, job_row.id, version, webhooks)
        return version

    def _settings_values(self, conn: Connection, settings: StepSettings) -> dict[str, Any]:
        group = self._require_group(conn, settings.target_group)
        credential = self._require_credential(conn, settings.credential)
        output = settings.output
        output_credential_id = None
        if output is not None:
            output_credential_id = self._require_credential(conn, output.credential).id
        retry = settings.retry
        return {
            "command_text": settings.command,
            "target_group_id": group.id,
            "credential_id": credential.id,
            "retry_attempts": retry.retry_attempts,
            "initial_retry_interval_seconds": retry.initial_retry_interval_seconds,
            "maximum_retry_interval_seconds": retry.maximum_retry_interval_seconds,
            "retry_interval_backoff_multiplier": retry.retry_interval_backoff_multiplier,
            "step_timeout_seconds": settings.step_timeout_seconds,
            "connect_timeout_seconds": settings.connect_timeout_seconds,
            "max_parallelism": settings.max_parallelism,
            "continue_on_failure": settings.continue_on_failure,
            "result_rows": settings.result_rows,
            "allow_database_switch": settings.allow_database_switch,
            "fresh_connection": settings.fresh_connection,
            "output_server_url": output.server_url if output else None,
            "output_database": output.database if output else None,
            "output_schema": output.schema if output else None,
            "output_table": output.table if output else None,
            "output_credential_id": output_credential_id,
            "canary": settings.canary,
            "wave_size": settings.wave_size,
            "wave_pause_seconds": settings.wave_pause_seconds,
            "max_failures": settings.max_failures,
            "retry_on": settings.retry_on,
        }

    # -- reading jobs -------------------------------------------------------------------------

    def _job_row(self, conn: Connection, name: str) -> Row[Any] | None:
        return conn.execute(select(t.job).where(t.job.c.name == name)).first()

    def _require_job(self, conn: Connection, name: str) -> Row[Any]:
        row = self._job_row(conn, name)
        if row is None:
            raise NotFound(f"no job named {name!r}")
        return row

    def _step_rows(self, conn: Connection, job_id: int, version: int) -> list[Row[Any]]:
        s = t.job_step
        return list(
            conn.execute(
                select(s)
                .where(s.c.job_id == job_id, s.c.job_version == version)
                .order_by(s.c.step_id)
            )
        )

    def _job(self, conn: Connection, row: Row[Any], version: int | None = None) -> Job:
        version = version or row.current_version
        s = t.job_step
        group = t.target_group
        cred = t.credential.alias("cred")
        out_cred = t.credential.alias("out_cred")
        rows = conn.execute(
            select(
                s,
                group.c.name.label("target_group_name"),
                cred.c.name.label("credential_name"),
                out_cred.c.name.label("output_credential_name"),
            )
            .join(group, group.c.id == s.c.target_group_id)
            .join(cred, cred.c.id == s.c.credential_id)
            .outerjoin(out_cred, out_cred.c.id == s.c.output_credential_id)
            .where(and_(s.c.job_id == row.id, s.c.job_version == version))
            .order_by(s.c.step_id)
        )
        return Job(
            id=row.id,
            name=row.name,
            description=row.description,
            enabled=row.enabled,
            schedule=schedule_from_row(row),
            version=version,
            steps=tuple(_step(r) for r in rows),
            created_at=row.created_at,
            updated_at=row.updated_at,
            webhooks=read_webhooks(conn, row.id, version),
        )


@contextmanager
def _duplicate_as(message: str) -> Iterator[None]:
    """Turn a unique-key violation into DuplicateName.

    The name checks before an insert read committed rows: on PostgreSQL, two sessions can
    both pass them, and the unique index then refuses the later insert.
    """
    try:
        yield
    except IntegrityError as exc:
        original = exc.orig
        unique = getattr(original, "sqlstate", None) == "23505" or "UNIQUE constraint" in str(
            original
        )
        if not unique:
            raise
        raise DuplicateName(message) from None


def _credential(row: Row[Any]) -> Credential:
    return Credential(row.id, row.name, row.username, row.created_at, row.updated_at)


_STEP_COPY_COLUMNS = [
    c.name for c in t.job_step.columns if c.name not in ("id", "job_id", "job_version", "step_id")
]


def _step_values(row: Row[Any]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _STEP_COPY_COLUMNS}


def _step(row: Row[Any]) -> Step:
    output = None
    if row.output_table is not None:
        output = OutputDestination(
            server_url=row.output_server_url,
            database=row.output_database,
            schema=row.output_schema,
            table=row.output_table,
            credential=row.output_credential_name,
        )
    return Step(
        step_id=row.step_id,
        name=row.step_name,
        settings=StepSettings(
            command=row.command_text,
            target_group=row.target_group_name,
            credential=row.credential_name,
            retry=RetryPolicy(
                retry_attempts=row.retry_attempts,
                initial_retry_interval_seconds=row.initial_retry_interval_seconds,
                maximum_retry_interval_seconds=row.maximum_retry_interval_seconds,
                retry_interval_backoff_multiplier=row.retry_interval_backoff_multiplier,
            ),
            step_timeout_seconds=row.step_timeout_seconds,
            connect_timeout_seconds=row.connect_timeout_seconds,
            max_parallelism=row.max_parallelism,
            continue_on_failure=row.continue_on_failure,
            result_rows=row.result_rows,
            allow_database_switch=row.allow_database_switch,
            fresh_connection=row.fresh_connection,
            output=output,
            **rollout_settings(row),
        ),
    )


def rollout_settings(row: Row[Any]) -> dict[str, Any]:
    """The rollout policy and retry class stored in a job_step row."""
    return {
        "canary": row.canary,
        "wave_size": row.wave_size,
        "wave_pause_seconds": row.wave_pause_seconds,
        "max_failures": row.max_failures,
        "retry_on": row.retry_on,
    }


def _schedule_values(schedule: Schedule | None) -> dict[str, Any]:
    if schedule is None:
        return {
            "schedule_kind": None,
            "schedule_interval_count": None,
            "schedule_interval_unit": None,
            "schedule_cron": None,
            "schedule_timezone": None,
            "schedule_start_time": None,
            "schedule_end_time": None,
        }
    return {
        "schedule_kind": schedule.kind,
        "schedule_interval_count": schedule.interval_count,
        "schedule_interval_unit": schedule.interval_unit,
        "schedule_cron": schedule.cron,
        "schedule_timezone": schedule.timezone,
        "schedule_start_time": schedule.start_time,
        "schedule_end_time": schedule.end_time,
    }


def schedule_from_row(row: Row[Any]) -> Schedule | None:
    """The schedule stored in a job row, if any."""
    if row.schedule_kind is None:
        return None
    return Schedule(
        kind=row.schedule_kind,
        interval_count=row.schedule_interval_count,
        interval_unit=row.schedule_interval_unit,
        cron=row.schedule_cron,
        timezone=row.schedule_timezone or "UTC",
        start_time=row.schedule_start_time,
        end_time=row.schedule_end_time,
    )
