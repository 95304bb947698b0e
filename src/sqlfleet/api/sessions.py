"""Browser sessions of the pages: the cookie holds random ids only, the server holds the rest.

Starlette's session cookie is signed, not encrypted: anyone who sees the cookie can read it.
So it carries an opaque session id and the session's CSRF token, never text a user typed.
The server keeps, in the memory of the web process, which session ids are signed in and the
flash messages waiting for their session's next page. Signing out forgets the id on the
server, so a copy of the cookie taken before is refused afterwards. Restarting the web
process forgets every session: everyone signs in again (one `web` or `up` process serves the
pages; nothing here is shared between processes).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request

SESSION_ID = "sid"
MAX_AGE_SECONDS = 12 * 3600
# Flashes wait for a page that may never be asked for (a script posting forms): keep a few
# per session and only so many sessions' worth, forgetting the oldest first.
MAX_FLASH_SESSIONS = 10_000
MAX_FLASHES = 20

Flash = tuple[str, str]


class SessionStore:
    """Signed-in session ids and pending flash messages, in this process's memory.

    Thread-safe: pages call it from the event loop, and nothing stops a threadpool call.
    """

    def __init__(
        self,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        # Kept apart from the flashes: only a sign-in with the token adds a session here, so
        # a flood of anonymous sessions can never push a signed-in one out.
        self._signed_in: dict[str, float] = {}
        self._flashes: OrderedDict[str, list[Flash]] = OrderedDict()

    def sign_in(self, session_id: str) -> None:
        """Mark the session signed in, for `max_age` seconds at most."""
        now = self._clock()
        with self._lock:
            expired = [sid for sid, at in self._signed_in.items() if now - at >= self.max_age]
            for sid in expired:
                del self._signed_in[sid]
            self._signed_in[session_id] = now

    def is_signed_in(self, session_id: str | None) -> bool:
        """Whether the session signed in less than `max_age` ago and has not signed out."""
        if session_id is None:
            return False
        with self._lock:
            at = self._signed_in.get(session_id)
            if at is None:
                return False
            if self._clock() - at >= self.max_age:
                del self._signed_in[session_id]
                return False
            return True

    def end(self, session_id: str | None) -> None:
        """Forget the session: signed out, its flashes dropped."""
        if session_id is None:
            return
        with self._lock:
            self._signed_in.pop(session_id, None)
            self._flashes.pop(session_id, None)

    def add_flash(self, session_id: str, kind: str, text: str) -> None:
        """Keep a message for the session's next page."""
        with self._lock:
            pending = self._flashes.setdefault(session_id, [])
            self._flashes.move_to_end(session_id)
            pending.append((kind, text))
            del pending[:-MAX_FLASHES]
            while len(self._flashes) > MAX_FLASH_SESSIONS:
                self._flashes.popitem(last=False)

    def pop_flashes(self, session_id: str | None) -> list[Flash]:
        """The session's pending messages, forgotten once taken."""
        if session_id is None:
            return []
        with self._lock:
            return self._flashes.pop(session_id, [])


def sessions_of(request: Request) -> SessionStore:
    """The app's session store."""
    store: SessionStore = request.app.state.sessions
    return store


def existing_session_id(request: Request) -> str | None:
    """This browser's session id, None when it has none yet."""
    value = request.session.get(SESSION_ID)
    return value if isinstance(value, str) and value else None


def session_id(request: Request) -> str:
    """This browser's session id, made on first use."""
    value = existing_session_id(request)
    if value is None:
        value = secrets.token_urlsafe(32)
        request.session[SESSION_ID] = value
    return value
