"""Credential secrets: masked in memory, encrypted at rest.

Secrets are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key that comes from
`SQLFLEET_SECRET_KEY` or from a key file made by `sqlfleet init` with mode 0600; a key file
that other users may read or write is refused. A wrong key is detected by the MAC and reported
as `SecretKeyError`, never decrypted into garbage.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from sqlfleet.errors import SecretKeyError

KEY_ENV = "SQLFLEET_SECRET_KEY"


class Secret:
    """A secret string whose repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for handing to a database driver."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _read_private(key_file: Path) -> bytes:
    """The key file's content, if no one but its owner may read or change it.

    As ssh does with a private key: a key others can read is no secret, and a key others can
    write lets them choose the key the next credentials are encrypted with.
    """
    with key_file.open("rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if os.name == "posix" and mode & 0o077:
            raise SecretKeyError(
                f"the key file {key_file} may be read or written by other users "
                f"(mode {stat.S_IMODE(mode):04o}): run `chmod 600 {key_file}`"
            )
        return f.read().strip()


class SecretBox:
    """Encrypts and decrypts secrets with one key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SecretKeyError(
                "the secret key is malformed: it must be 32 url-safe base64-encoded bytes "
                "(make one with `sqlfleet init` or Fernet.generate_key())"
            ) from None

    @classmethod
    def from_environment(cls, key_file: Path) -> SecretBox:
        """Use `SQLFLEET_SECRET_KEY` if set, else the key file."""
        env_key = os.environ.get(KEY_ENV)
        if env_key:
            return cls(env_key.strip().encode())
        try:
            return cls(_read_private(key_file))
        except FileNotFoundError:
            raise SecretKeyError(
                f"no secret key: set {KEY_ENV} or run `sqlfleet init` to create {key_file}"
            ) from None
        except OSError as exc:
            raise SecretKeyError(
                f"cannot read the secret key file {key_file}: {exc.strerror}"
            ) from None

    @staticmethod
    def create_key_file(key_file: Path) -> bool:
        """Create a new key file readable by its owner only; False if one exists already."""
        try:
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        except OSError as exc:
            raise SecretKeyError(f"cannot create the key file {key_file}: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
        return True

    def encrypt(self, secret: Secret) -> str:
        """The encrypted token of `secret`, safe to store."""
        return self._fernet.encrypt(secret.reveal().encode()).decode("ascii")

    def decrypt(self, token: str, *, what: str = "a stored secret") -> Secret:
        """Decrypt a token made by `encrypt` under the same key."""
        try:
            return Secret(self._fernet.decrypt(token.encode("ascii")).decode())
        except InvalidToken:
            raise SecretKeyError(
                f"the secret key cannot decrypt {what}: {KEY_ENV} or the key file is not "
                "the key the job database was initialized with"
            ) from None
