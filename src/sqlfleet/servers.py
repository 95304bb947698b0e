"""Server URLs: engine, host and port of a database server, never a secret.

`postgresql://host:5432`, `mysql://host:3306` (MySQL and MariaDB), `sqlite:///path/to/folder`
(each `*.db`/`*.sqlite` file in the folder is a database), `mssql://host:1433`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlfleet.errors import InvalidServerUrl

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
SCHEME_ALIASES = {"postgres": "postgresql", "mariadb": "mysql", "sqlserver": "mssql"}
ENGINES = ("postgresql", "mysql", "sqlite", "mssql")


@dataclass(frozen=True, slots=True)
class ServerUrl:
    """A database server: which engine, where. For SQLite, `path` is a folder."""

    engine: str
    host: str = ""
    port: int = 0
    path: str = ""

    @classmethod
    def parse(cls, text: str) -> ServerUrl:
        """Parse and validate a server URL; raise `InvalidServerUrl` with the reason."""
        text = text.strip()
        if "://" not in text:
            raise InvalidServerUrl(
                f"server URL {text!r} has no scheme: use postgresql://host:port, "
                "mysql://host:port, sqlite:///folder or mssql://host:port"
            )
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise InvalidServerUrl(f"server URL {text!r} is malformed: {exc}") from None
        scheme = SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
        if scheme not in ENGINES:
            raise InvalidServerUrl(
                f"server URL {text!r} names an unknown engine {parts.scheme!r}: "
                f"use one of {', '.join(ENGINES)}"
            )
        if parts.password is not None:
            raise InvalidServerUrl(
                "server URL must not contain a password: store it in a credential instead"
            )
        if parts.username is not None:
            raise InvalidServerUrl(
                "server URL must not contain a user name: name a credential instead"
            )
        if parts.query or parts.fragment:
            raise InvalidServerUrl(f"server URL {cls._masked(text)!r} must not have a query")
        if scheme == "sqlite":
            if parts.netloc:
                raise InvalidServerUrl(
                    f"SQLite server URL {text!r} must be sqlite:///path/to/folder (three slashes)"
                )
            if not parts.path or parts.path == "/":
                raise InvalidServerUrl(f"SQLite server URL {text!r} names no folder")
            return cls(engine="sqlite", path=str(Path("/" + parts.path.lstrip("/"))))
        host = parts.hostname or ""
        if not host:
            raise InvalidServerUrl(f"server URL {text!r} names no host")
        if parts.path not in ("", "/"):
            raise InvalidServerUrl(
                f"server URL {text!r} must not name a database: "
                "a server member runs on every database, a database member names it with --database"
            )
        return cls(engine=scheme, host=host, port=port or DEFAULT_PORTS[scheme])

    @staticmethod
    def _masked(text: str) -> str:
        return text.split("?", 1)[0]

    def __str__(self) -> str:
        if self.engine == "sqlite":
            return (
                f"sqlite://{self.path}" if self.path.startswith("/") else f"sqlite:///{self.path}"
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.engine}://{host}:{self.port}"
