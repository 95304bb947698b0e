"""Where sqlfleet keeps its files, and which job database it uses."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

HOME_ENV = "SQLFLEET_HOME"
JOB_DB_ENV = "SQLFLEET_JOB_DB"
KEY_FILE_ENV = "SQLFLEET_SECRET_KEY_FILE"
WEB_URL_ENV = "SQLFLEET_WEB_URL"


def data_dir() -> Path:
    """sqlfleet's own folder: `SQLFLEET_HOME`, else the user's data directory."""
    return Path(os.environ.get(HOME_ENV) or user_data_dir("sqlfleet", appauthor=False))


def demo_dir() -> Path:
    """The demo's own folder (job database, key, fleet): never the user's job database."""
    return data_dir() / "demo"


def default_job_db() -> str:
    """The embedded default: a SQLite file in the data directory."""
    return f"sqlite:///{data_dir() / 'jobs.db'}"


def job_db_url(explicit: str | None = None) -> str:
    """The job database to use: `--job-db`, else `SQLFLEET_JOB_DB`, else the default."""
    return explicit or os.environ.get(JOB_DB_ENV) or default_job_db()


def key_file() -> Path:
    """The secret key file: `SQLFLEET_SECRET_KEY_FILE`, else `secret.key` in the data dir."""
    explicit = os.environ.get(KEY_FILE_ENV)
    return Path(explicit) if explicit else data_dir() / "secret.key"


def web_url(explicit: str | None = None) -> str | None:
    """The web UI's address for links in notifications: given, else `SQLFLEET_WEB_URL`.

    None when neither says: notifications then link to the execution page's path alone.
    """
    from sqlfleet.webhooks import check_web_url

    url = explicit if explicit is not None else os.environ.get(WEB_URL_ENV) or None
    return None if url is None else check_web_url(url)
