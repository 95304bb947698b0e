"""Opening the job database, and creating or upgrading its schema with Alembic."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

from sqlfleet.errors import (
    InvalidJobDatabaseUrl,
    JobDatabaseNotInitialized,
    JobDatabaseTooNew,
    JobDatabaseUnavailable,
    JobDatabaseUnreachable,
    StoreError,
)
from sqlfleet.masking import MAX_PORT, has_control_character, mask_url, quoted_url, without
from sqlfleet.store.boundary import first_line, translate

# The newest migration this code knows; tests check it is Alembic's head.
SCHEMA_REVISION = "0011"
# The page cache of each SQLite job-database connection, in KiB (SQLite's default is 2,000).
SQLITE_CACHE_KIB = 512
# Prepared statements each SQLite connection keeps (Python's default is 128). Each costs
# SQLite 10 to 40 KiB, and a list of ids makes a new statement for each length (`IN (?, ?)`):
# with 128 of them, each pooled connection of a service that runs for weeks slowly grows by
# megabytes; the statements used over and over stay among the 32 kept.
SQLITE_CACHED_STATEMENTS = 32
CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """What `init` found and did."""

    url: str
    before: str | None
    after: str


def safe_url(url: str | URL) -> str:
    """The URL with any password masked, fit for messages, even when it is malformed."""
    if isinstance(url, str):
        return mask_url(url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database.startswith("file:"):
        return f"sqlite:///{database.removeprefix('file:')}"  # a read-only file, as given
    rendered = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
    return mask_url(rendered)  # SQLAlchemy leaves a `?password=` query parameter as it is


def open_engine(url: str, *, create: bool = False) -> Engine:
    """An engine on the job database at `url` (SQLite or PostgreSQL).

    A SQLite file that does not exist is created only when `create` is true; otherwise it is
    reported as not initialized rather than silently made empty.
    """
    parsed = parse_job_db_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, create=create)
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            # After a server restart, pooled connections are dead: check one before use so
            # that the first call after an outage works instead of failing once more.
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
        )
    raise InvalidJobDatabaseUrl(
        f"job database URL {quoted_url(url)}: unsupported engine {backend!r}; "
        "the job database is SQLite or PostgreSQL"
    )


def parse_job_db_url(url: str) -> URL:
    """Parse a job database URL, or `InvalidJobDatabaseUrl` quoting it with its password masked."""
    shown = quoted_url(url)
    usage = "use sqlite:///path/to/jobs.db or postgresql://user@host:5432/dbname"
    if has_control_character(url):
        raise InvalidJobDatabaseUrl(
            f"job database URL {shown} holds a control character (newline, tab, ...): {usage}"
        )
    try:
        # SQLAlchemy raises a bare ValueError for a port that is not a number.
        parsed = make_url(url)
        port = parsed.port
    except ArgumentError:
        raise InvalidJobDatabaseUrl(f"job database URL {shown} is malformed: {usage}") from None
    except ValueError:
        raise InvalidJobDatabaseUrl(
            f"job database URL {shown} is malformed: its port must be a number from 1 to "
            f"{MAX_PORT}, and an IPv6 address goes in brackets ([::1])"
        ) from None
    if port is not None and not 1 <= port <= MAX_PORT:
        raise InvalidJobDatabaseUrl(
            f"job database URL {shown} is malformed: its port must be a number from 1 to {MAX_PORT}"
        )
    return parsed


def _sqlite_engine(parsed: URL, *, create: bool) -> Engine:
    database = parsed.database or ""
    if database in ("", ":memory:"):
        raise InvalidJobDatabaseUrl(
            "the job database must be a SQLite file, not an in-memory database"
        )
    read_only = _sqlite_read_only(parsed)
    if read_only and create:
        raise InvalidJobDatabaseUrl(
            "a read-only job database (?mode=ro) cannot be created or upgraded"
        )
    path = Path(database).expanduser()
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobDatabaseUnreachable(
                f"cannot create the folder of the job database {path}: {exc.strerror}"
            ) from None
    elif not path.exists():
        raise JobDatabaseNotInitialized(
            f"there is no job database at {path}: run `sqlfleet init` to create it"
        )
    target = parsed.set(database=str(path), drivername="sqlite+pysqlite", query={})
    if read_only:
        # SQLite opens a file read-only only through a URI; sqlfleet then only reads.
        target = target.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
    engine = create_engine(
        target,
        connect_args={
            "timeout": 30,
            "check_same_thread": False,
            "cached_statements": SQLITE_CACHED_STATEMENTS,
        },
        # A service keeps its pooled connections for weeks: as few as for PostgreSQL, each
        # with a page cache of its own (SQLITE_CACHE_KIB) on top of the OS's file cache.
        **({"poolclass": NullPool} if create else {"pool_size": 5, "max_overflow": 5}),
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let the sqlite3 module leave transactions to SQLAlchemy's explicit BEGIN below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        if not read_only:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking.
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _sqlite_read_only(parsed: URL) -> bool:
    """Whether a SQLite job database URL asks for read-only access; refuse other options."""
    options = dict(parsed.query)
    mode = options.pop("mode", None)
    if options or mode not in (None, "ro", "rw", "rwc"):
        raise InvalidJobDatabaseUrl(
            f"job database URL {safe_url(parsed)!r}: a SQLite job database takes no option "
            "but ?mode=ro (read-only)"
        )
    return mode == "ro"


def _alembic_config(engine_connection: Any) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "sqlfleet.store:migrations")
    config.attributes["connection"] = engine_connection
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the job database, None when it has none."""
    try:
        with engine.connect() as connection:
            # A plain query: importing Alembic costs more than most commands take.
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        translated = translate(exc, safe_url(engine.url))
        if translated is None:
            raise
        if isinstance(translated, JobDatabaseUnreachable) or type(translated) is StoreError:
            raise JobDatabaseUnavailable(
                f"cannot reach the job database {safe_url(engine.url)}: "
                f"{without(engine.url.password, first_line(exc))}"
            ) from None
        raise translated from None


def check_schema(engine: Engine) -> None:
    """Refuse a job database that is missing, older or newer than this code."""
    revision = current_revision(engine)
    if revision == SCHEMA_REVISION:
        return
    where = safe_url(engine.url)
    if revision is None:
        raise JobDatabaseNotInitialized(
            f"the job database {where} is not initialized: run `sqlfleet init`"
        )
    known = {script.revision for script in _scripts().walk_revisions()}
    if revision in known:
        raise JobDatabaseNotInitialized(
            f"the job database {where} has an older schema ({revision}): "
            "run `sqlfleet init` to upgrade it"
        )
    raise JobDatabaseTooNew(
        f"the job database {where} has schema {revision}, newer than this sqlfleet knows "
        f"({SCHEMA_REVISION}): upgrade sqlfleet"
    )


def upgrade_schema(engine: Engine) -> SchemaStatus:
    """Create or upgrade the schema to the newest revision; safe to run again."""
    before = current_revision(engine)
    if before is not None and before not in {s.revision for s in _scripts().walk_revisions()}:
        check_schema(engine)  # raises JobDatabaseTooNew
    from alembic import command

    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
    except Exception as exc:
        translated = translate(exc, safe_url(engine.url))
        if translated is None:
            raise
        raise type(translated)(f"cannot upgrade the job database: {translated.message}") from None
    return SchemaStatus(url=safe_url(engine.url), before=before, after=SCHEMA_REVISION)


def _scripts() -> ScriptDirectory:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "sqlfleet.store:migrations")
    return ScriptDirectory.from_config(config)


def head_revision() -> str | None:
    """Alembic's head revision among the shipped migrations."""
    return _scripts().get_current_head()
