"""The agent: a long-running process that fires schedules and runs what anyone started.

Its loops run in one task group: the dispatcher (claims and runs target executions, extends
leases, cancels what was stopped), the heartbeat, the scheduler, the purger, a call each
minute that hands the C allocator's free memory back to the OS, and (on PostgreSQL) a
listener that wakes the dispatcher as soon as an execution is created anywhere. Several
agents may share one PostgreSQL job database; a SQLite job database takes one agent at a time.

Shutdown (SIGTERM/SIGINT): stop claiming, let running targets finish within the grace period,
then cancel their statements and release them so another agent takes them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlfleet import limits
from sqlfleet.allocator import release_free_memory
from sqlfleet.clock import Clock, utcnow
from sqlfleet.engine.dispatcher import Dispatcher, DispatcherSettings
from sqlfleet.errors import JobDatabaseUnavailable, StoreError
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.store import announcements
from sqlfleet.webhooks import check_web_url

log = logging.getLogger("sqlfleet.agent")

# On shutdown, how long to keep trying to release claims while the job database is away.
SIGN_OFF_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """How an agent behaves; the defaults suit production."""

    concurrency: int = 100
    heartbeat_interval: float = 5.0
    schedule_interval: float = 1.0
    poll_interval: float = 0.5
    lease: timedelta = timedelta(seconds=60)
    grace_period: float = 30.0
    retention_days: float = 45.0
    purge_interval: float = 3600.0
    # How often the C allocator's free pages go back to the OS (see `sqlfleet.allocator`).
    memory_interval: float = 60.0
    web_url: str | None = None  # the web UI's address, for links in notifications

    def __post_init__(self) -> None:
        # The same limits as the CLI's options: refused here, not deep in a loop later.
        limits.CONCURRENCY.check(self.concurrency)
        limits.LEASE_SECONDS.check(self.lease.total_seconds())
        limits.GRACE_PERIOD.check(self.grace_period)
        limits.RETENTION_DAYS.check(self.retention_days)
        if self.web_url is not None:
            check_web_url(self.web_url)


def default_agent_name() -> str:
    """host-pid: unique on a host, readable in `agent list`."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Agent:
    """One agent on one job database."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        name: str | None = None,
        settings: AgentSettings | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.fleet = fleet
        self.store = fleet.store
        self.name = default_agent_name() if name is None else limits.check_name("agent", name)
        self.settings = settings or AgentSettings()
        self.clock = clock
        self.stopping = asyncio.Event()
        self.dispatcher = Dispatcher(
            self.store,
            fleet.credential_login,
            agent_name=self.name,
            settings=DispatcherSettings(
                concurrency=self.settings.concurrency,
                lease=self.settings.lease,
                poll_interval=self.settings.poll_interval,
                web_url=self.settings.web_url,
            ),
            clock=clock,
            decrypt=fleet.decrypt,
        )

    def request_stop(self) -> None:
        """Begin a graceful shutdown (what SIGTERM and SIGINT do)."""
        if not self.stopping.is_set():
            log.info(
                "agent %s: stopping; running targets get %.0f s to finish",
                self.name,
                self.settings.grace_period,
            )
        self.stopping.set()
        self.dispatcher.wake()

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        """Register, work until asked to stop, shut down gracefully, unregister.

        A job database that goes away is waited for: the agent logs it once, keeps running
        what it holds, and carries on when it is back. Stopping while it is away still
        drains; what cannot be recorded is left to the leases.
        """
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        try:
            if await self._register():
                await self._work()
        finally:
            if install_signal_handlers:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    async def _register(self) -> bool:
        """Register this agent, waiting for the job database if it is away; False if asked
        to stop first."""
        stale = timedelta(seconds=self.settings.heartbeat_interval * 3)
        while True:
            try:
                self.fleet.secrets  # noqa: B018 -- a wrong key fails now, not at the first target
                await asyncio.to_thread(
                    self.store.register_agent,
                    self.name,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    concurrency=self.settings.concurrency,
                    now=self.clock(),
                    stale_after=max(stale, self.settings.lease),
                )
                break
            except JobDatabaseUnavailable:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.store.availability.retry_delay(0.5)):
                        await self.stopping.wait()
                if self.stopping.is_set():
                    return False
        log.info("agent %s: running on %s", self.name, self.store.url)
        return True

    async def _work(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                loops = [
                    group.create_task(self._heartbeat(), name="heartbeat"),
                    group.create_task(self._scheduler(), name="scheduler"),
                    group.create_task(self._purger(), name="purger"),
                    group.create_task(self._release_memory(), name="release-memory"),
                    group.create_task(
                        self.fleet.listen_for_changes(self._announced),
                        name="execution-announcements",
                    ),
                ]
                serving = group.create_task(self.dispatcher.serve(self.stopping), name="dispatcher")
                await self.stopping.wait()
                await self._drain(serving)
                for task in loops:
                    task.cancel()
        finally:
            await self._sign_off()

    def _announced(self, change: announcements.ExecutionChange) -> None:
        """The job database announced a change: a new execution is work to start now."""
        if change.job_execution_id is None or change.lifecycle is Lifecycle.CREATED:
            self.dispatcher.work_announced()

    async def _sign_off(self) -> None:
        """Release what this agent still holds and unregister, trying for a while if the
        job database is away; if it stays away, the leases run out instead."""
        deadline = asyncio.get_running_loop().time() + SIGN_OFF_SECONDS
        message = f"agent {self.name} shut down before this attempt ended; released"
        while True:
            try:
                released = await asyncio.to_thread(
                    self.store.release_targets,
                    self.name,
                    now=self.clock(),
                    message=message,
                    not_started=self.dispatcher.not_started,
                )
                if released:
                    log.info("agent %s: released %d target(s) to other agents", self.name, released)
                await asyncio.to_thread(self.store.unregister_agent, self.name)
                break
            except StoreError as exc:
                if asyncio.get_running_loop().time() >= deadline or not isinstance(
                    exc, JobDatabaseUnavailable
                ):
                    log.warning(
                        "agent %s: could not sign off (%s); its targets are taken over when "
                        "their leases run out",
                        self.name,
                        exc.message,
                    )
                    break
                await asyncio.sleep(self.store.availability.retry_delay(0.5))
        log.info("agent %s: stopped", self.name)

    async def _drain(self, serving: asyncio.Task[None]) -> None:
        """Give running targets the grace period, then cancel what is left."""
        with self._survive("saying it is stopping"):
            await asyncio.to_thread(
                self.store.heartbeat,
                self.name,
                now=self.clock(),
                running=self.dispatcher.running,
                stopping=True,
            )
        try:
            async with asyncio.timeout(self.settings.grace_period):
                await asyncio.shield(serving)
        except TimeoutError:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving

    async def _heartbeat(self) -> None:
        while True:
            with self._survive("heartbeat"):
                await asyncio.to_thread(
                    self.store.heartbeat,
                    self.name,
                    now=self.clock(),
                    running=self.dispatcher.running,
                    stopping=self.stopping.is_set(),
                )
            await asyncio.sleep(self.settings.heartbeat_interval)

    async def _scheduler(self) -> None:
        while True:
            with self._survive("firing schedules"):
                fired = await asyncio.to_thread(self.store.fire_due_schedules, now=self.clock())
                for f in fired:
                    log.info(
                        "schedule of job %s fired (%s): execution %d",
                        f.job_name,
                        f.scheduled_time,
                        f.job_execution_id,
                        extra={"job": f.job_name, "job_execution_id": f.job_execution_id},
                    )
                if fired:
                    self.dispatcher.wake()
            await asyncio.sleep(self.settings.schedule_interval)

    async def _purger(self) -> None:
        while True:
            with self._survive("purging history"):
                purged = await asyncio.to_thread(
                    self.fleet.purge, older_than_days=self.settings.retention_days
                )
                if purged:
                    log.info(
                        "purged %d execution(s) older than %g days",
                        purged,
                        self.settings.retention_days,
                    )
            await asyncio.sleep(self.settings.purge_interval)

    async def _release_memory(self) -> None:
        while True:
            await asyncio.sleep(self.settings.memory_interval)
            if not release_free_memory():
                return  # not glibc: nothing to hand back this way

    @contextlib.contextmanager
    def _survive(self, doing: str) -> Iterator[None]:
        """A failing job database is logged and tried again next round, not fatal."""
        try:
            yield
        except JobDatabaseUnavailable:
            pass  # an outage is logged once, by the store, and waited out
        except StoreError as exc:
            log.warning("agent %s: %s: %s", self.name, doing, exc.message)
