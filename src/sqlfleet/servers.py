"""Server URLs: engine, host and port of a database server, never a secret.

`postgresql://host:5432`, `mysql://host:3306` (MySQL and MariaDB), `sqlite:///path/to/folder`
(each `*.db`/`*.sqlite` file in the folder is a database), `mssql://host:1433`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlfleet.errors import InvalidServerUrl
from sqlfleet.masking import MAX_PORT, has_control_character, quoted_url

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
        """Parse and validate a server URL; raise `InvalidServerUrl` with the reason.

        Messages quote the URL with any password masked, whatever else is wrong with it.
        """
        text = text.strip(" ")
        shown = quoted_url(text)
        if has_control_character(text):
            # urlsplit would drop a newline or tab silently: refuse rather than guess.
            raise InvalidServerUrl(
                f"server URL {shown} holds a control character (newline, tab, ...)"
            )
        if "://" not in text:
            raise InvalidServerUrl(
                f"server URL {shown} has no scheme: use postgresql://host:port, "
                "mysql://host:port, sqlite:///folder or mssql://host:port"
            )
        try:
            parts = urlsplit(text)
            username, password, host = parts.username, parts.password, parts.hostname
        except ValueError:
            raise InvalidServerUrl(
                f"server URL {shown} is malformed: its host must be a name, an IPv4 address "
                "or an IPv6 address in brackets (postgresql://[::1]:5432)"
            ) from None
        scheme = SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
        if scheme not in ENGINES:
            raise InvalidServerUrl(
                f"server URL {shown} names an unknown engine {parts.scheme!r}: "
                f"use one of {', '.join(ENGINES)}"
            )
        if password is not None:
            raise InvalidServerUrl(
                f"server URL {shown} must not contain a password: store it in a credential instead"
            )
        if username is not None:
            raise InvalidServerUrl(
                f"server URL {shown} must not contain a user name: name a credential instead"
            )
        if parts.query or parts.fragment:
            raise InvalidServerUrl(
                f"server URL {quoted_url(_before_query(text))} must not have a query"
            )
        if scheme == "sqlite":
            if parts.netloc:
                raise InvalidServerUrl(
                    f"SQLite server URL {shown} must be sqlite:///path/to/folder (three slashes)"
                )
            if not parts.path or parts.path == "/":
                raise InvalidServerUrl(f"SQLite server URL {shown} names no folder")
            return cls(engine="sqlite", path=str(Path("/" + parts.path.lstrip("/"))))
        port = _port(parts.netloc, shown)
        if not host:
            raise InvalidServerUrl(f"server URL {shown} names no host")
        if parts.path not in ("", "/"):
            raise InvalidServerUrl(
                f"server URL {shown} must not name a database: "
                "a server member runs on every database, a database member names it with --database"
            )
        return cls(engine=scheme, host=host, port=DEFAULT_PORTS[scheme] if port is None else port)

    def __str__(self) -> str:
        if self.engine == "sqlite":
            return (
                f"sqlite://{self.path}" if self.path.startswith("/") else f"sqlite:///{self.path}"
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.engine}://{host}:{self.port}"


def _before_query(text: str) -> str:
    return text.split("?", 1)[0].split("#", 1)[0]


def _port(netloc: str, shown: str) -> int | None:
    """The port of `host:port` (None when there is none), or `InvalidServerUrl`.

    The port's text is never quoted: in `postgresql://user:PW/` it is the password.
    """
    host_port = netloc.rpartition("@")[2]
    if host_port.startswith("["):
        after = host_port.partition("]")[2]
        if after and not after.startswith(":"):
            raise InvalidServerUrl(
                f"server URL {shown} is malformed: only :port may follow the ] of an IPv6 address"
            )
        text = after[1:] if after else None
    else:
        text = host_port.partition(":")[2] if ":" in host_port else None
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PORT:
        raise InvalidServerUrl(
            f"server URL {shown} is malformed: its port must be a number from 1 to {MAX_PORT}"
        )
    return int(text)
