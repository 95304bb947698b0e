"""The notifier: sends the notifications the job database holds for webhooks, in the background.

An execution that ends (or a rollout that halts) writes its notifications in the same
transaction (see `sqlfleet.store.webhooks`). The notifier of the process that did so is woken
at once; it claims them under a lease, posts each one, and records every attempt. Nothing here
ever waits on the execution or makes it wait: a webhook that is slow, down or wrong changes
only its own delivery record. A delivery is tried again after connection errors, timeouts,
429 and 5xx answers, with a growing pause, a few times within a minute; other answers fail
it at once. A notifier that goes away leaves its claims to expire, and another one carries on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlfleet.clock import Clock, utcnow
from sqlfleet.errors import JobDatabaseUnavailable, SqlfleetError, StoreError
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.masking import without
from sqlfleet.secrets import Secret
from sqlfleet.store import DeliveryClaim, JobStore
from sqlfleet.store.webhooks import DELIVERED, FAILED, PENDING
from sqlfleet.webhooks import (
    EVENT_HEADER,
    FIRST_FAILED,
    ROLLOUT_HALTED,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Notification,
    execution_link,
    mask_webhook_url,
    sign,
)

if TYPE_CHECKING:
    import httpx  # imported when a notification is sent: most runs send none

log = logging.getLogger("sqlfleet.notify")
# httpx logs each request's full URL at INFO, and a webhook's URL holds its token: only its
# warnings may pass, whoever configures logging.
for _name in ("httpx", "httpcore"):
    if logging.getLogger(_name).level < logging.WARNING:
        logging.getLogger(_name).setLevel(logging.WARNING)

Db = Callable[..., Awaitable[Any]]
Decrypt = Callable[[str], Secret]
USER_AGENT = "sqlfleet-webhook/1"
RETRY_STATUS = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    """How hard a notifier tries: per request, and in all."""

    request_timeout: float = 5.0
    # Pauses between attempts: 4 attempts over about 15 s (plus the requests' own time).
    pauses: tuple[float, ...] = field(default=(1.0, 4.0, 10.0))
    lease: timedelta = timedelta(seconds=120)
    poll_interval: float = 2.0
    concurrency: int = 8

    @property
    def attempts(self) -> int:
        """How many attempts a notification gets at most."""
        return len(self.pauses) + 1


@dataclass(frozen=True, slots=True)
class Answer:
    """How one attempt went."""

    delivered: bool
    retry: bool
    status: int | None
    reason: str | None


class Notifier:
    """Sends the notifications of one process (an agent, `up`, or `sqlfleet run`)."""

    def __init__(
        self,
        store: JobStore,
        decrypt: Decrypt,
        db: Db,
        *,
        holder: str,
        web_url: str | None = None,
        clock: Clock = utcnow,
        settings: NotifierSettings | None = None,
        job_execution_id: int | None = None,
    ) -> None:
        self.store = store
        self.holder = holder
        self.web_url = web_url
        self.clock = clock
        self.settings = settings or NotifierSettings()
        self.job_execution_id = job_execution_id
        # Told the outcome of every notification that ends here (metrics): "delivered", "failed".
        self.observers: list[Callable[[str], None]] = []
        self._decrypt = decrypt
        self._db = db
        self._wake = asyncio.Event()
        self._sending: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._client: httpx.AsyncClient | None = None

    @property
    def sending(self) -> int:
        """How many notifications this notifier is sending now."""
        return len(self._sending)

    def wake(self) -> None:
        """Look for notifications now (an execution may have just ended)."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and send notifications until canceled."""
        while True:
            self._wake.clear()
            try:
                await self.claim()
            except JobDatabaseUnavailable:
                pass  # an outage is logged once, by the store, and waited out
            except StoreError as exc:
                log.warning("notifier %s: claiming notifications: %s", self.holder, exc.message)
            try:
                async with asyncio.timeout(self.settings.poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def claim(self) -> int:
        """Claim what is due and start sending it; how many were claimed."""
        room = self.settings.concurrency * 2 - len(self._sending)
        if room <= 0:
            return 0
        claims: list[DeliveryClaim] = await self._db(
            self.store.claim_deliveries,
            self.holder,
            now=self.clock(),
            lease=self.settings.lease,
            limit=room,
            job_execution_id=self.job_execution_id,
        )
        for claim in claims:
            if claim.id not in self._sending:
                task = asyncio.get_running_loop().create_task(
                    self._send(claim), name=f"notification-{claim.id}"
                )
                self._sending[claim.id] = task
        return len(claims)

    async def drain(self, seconds: float) -> None:
        """Send what is due, waiting at most `seconds`; then let go of what is left, so that
        another notifier sends it."""
        try:
            await self.claim()
        except StoreError as exc:
            log.warning("notifier %s: claiming notifications: %s", self.holder, exc.message)
        tasks = list(self._sending.values())
        if tasks:
            await asyncio.wait(tasks, timeout=seconds)
        left = list(self._sending.values())
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        try:
            # Also what a claim cut short by shutdown took without telling anyone.
            released = await self._db(self.store.release_deliveries, self.holder)
        except StoreError as exc:
            log.warning("notifier %s: %s", self.holder, exc.message)
        else:
            if released:
                log.info(
                    "notifier %s: left %d notification(s) unsent for another process",
                    self.holder,
                    released,
                )
        await self.close()

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- one notification ---------------------------------------------------------------------

    async def _send(self, claim: DeliveryClaim) -> None:
        try:
            async with self._slots:
                await self._deliver(claim)
        except asyncio.CancelledError:
            raise
        except StoreError as exc:
            # Its lease runs out and it is sent again: at least once, as targets are run.
            log.warning("notification %d: %s", claim.id, exc.message)
        except Exception:  # a defect must lose one notification, never the agent
            log.exception("notification %d failed unexpectedly", claim.id)
        finally:
            self._sending.pop(claim.id, None)

    async def _deliver(self, claim: DeliveryClaim) -> None:
        where = claim.webhook
        try:
            url = self._decrypt(claim.url_token).reveal()
            secret = self._decrypt(claim.secret_token) if claim.secret_token else None
            notification = await self._notification(claim)
        except StoreError:
            raise
        except SqlfleetError as exc:
            await self._record(claim, FAILED, claim.attempts, None, exc.message)
            return
        attempts = claim.attempts
        while True:
            answer = await self._post(url, secret, claim, notification)
            attempts += 1
            if answer.delivered:
                await self._record(claim, DELIVERED, attempts, answer.status, answer.reason)
                return
            last = attempts >= self.settings.attempts or not answer.retry
            state = FAILED if last else PENDING
            await self._record(claim, state, attempts, answer.status, answer.reason)
            if last:
                log.warning(
                    "notification %d of execution %d to %s failed after %d attempt(s): %s",
                    claim.id,
                    claim.job_execution_id,
                    where,
                    attempts,
                    answer.reason,
                    extra={"job_execution_id": claim.job_execution_id},
                )
                return
            await asyncio.sleep(self.settings.pauses[min(attempts, len(self.settings.pauses)) - 1])

    async def _record(
        self,
        claim: DeliveryClaim,
        state: str,
        attempts: int,
        status: int | None,
        reason: str | None,
    ) -> None:
        # Shielded: an attempt that was made is recorded even while shutting down.
        await asyncio.shield(
            self._db(
                self.store.record_delivery,
                claim.id,
                self.holder,
                state=state,
                attempts=attempts,
                status=status,
                reason=reason,
                now=self.clock(),
            )
        )
        if state != PENDING:
            for observe in self.observers:
                observe(state)

    async def _notification(self, claim: DeliveryClaim) -> Notification:
        """What the notification says, read now: the execution as it stands."""
        execution = await self._db(self.store.get_execution, claim.job_execution_id)
        failed = await self._db(
            self.store.list_target_executions,
            claim.job_execution_id,
            lifecycle=[Lifecycle.FAILED, Lifecycle.TIMED_OUT],
            limit=FIRST_FAILED,
        )
        step_name = None
        if claim.step_execution_id is not None:
            steps = await self._db(self.store.list_step_executions, claim.job_execution_id)
            step_name = next((s.step_name for s in steps if s.id == claim.step_execution_id), None)
        message = claim.message if claim.event == ROLLOUT_HALTED else execution.last_message
        return Notification(
            event=claim.event,
            execution=execution,
            failed=failed,
            link=execution_link(self.web_url, execution.id),
            step_name=step_name,
            message=message,
        )

    async def _post(
        self, url: str, secret: Secret | None, claim: DeliveryClaim, notification: Notification
    ) -> Answer:
        import httpx

        now = self.clock()
        body = json.dumps(notification.body(now), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: claim.event,
            TIMESTAMP_HEADER: str(int(now.timestamp())),
            "X-Sqlfleet-Delivery": str(claim.id),
        }
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        if self._client is None:
            # Redirects are not followed: the body would go where the URL's owner did not say.
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.request_timeout), follow_redirects=False
            )
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Answer(
                False, True, None, f"no answer within {self.settings.request_timeout:g} s"
            )
        except httpx.HTTPError as exc:
            return Answer(False, True, None, _reason(exc, url))
        status = response.status_code
        if 200 <= status < 300:
            return Answer(True, False, status, None)
        retry = status >= 500 or status in RETRY_STATUS
        if 300 <= status < 400:
            return Answer(False, False, status, f"HTTP {status}: redirect not followed")
        return Answer(False, retry, status, f"HTTP {status}{_snippet(response, url)}")


def _hide(url: str, text: str) -> str:
    """`text` without the URL or its path and query (where incoming webhooks keep tokens)."""
    parts = urlsplit(url)
    hidden = without(url, text)
    for piece in (parts.path + ("?" + parts.query if parts.query else ""), parts.query):
        if len(piece) > 1:
            hidden = without(piece, hidden)
    if parts.password:
        hidden = without(parts.password, hidden)
    return hidden.replace(url, mask_webhook_url(url))


def _reason(error: httpx.HTTPError, url: str) -> str:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    kind = type(error).__name__
    return _hide(url, f"{kind}: {detail}" if detail else kind)[:500]


def _snippet(response: httpx.Response, url: str) -> str:
    try:
        text = response.text.strip().replace("\n", " ")
    except (UnicodeDecodeError, LookupError):
        return ""
    return f": {_hide(url, text[:200])}" if text else ""
