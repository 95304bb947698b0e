"""The dispatcher: claims work from the job database and runs it, bounded in parallel.

It starts steps (resolving their target groups), claims due target executions in batches,
runs each attempt in its own task under a global cap on concurrent connections, and records
outcomes in batched transactions. Steps' `max_parallelism` is enforced by the claims. All
job-database calls go through one worker thread, in order, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ParamSpec, TypeVar

from sqlfleet.clock import Clock, utcnow
from sqlfleet.engine import rollout
from sqlfleet.engine.notifier import Decrypt, Notifier, NotifierSettings
from sqlfleet.engine.output import OutputWriter
from sqlfleet.engine.plan import StepPlan
from sqlfleet.engine.runner import canceled, run_attempt
from sqlfleet.engine.sessions import Sessions
from sqlfleet.errors import InvalidValue, JobDatabaseUnavailable, SqlfleetError, StoreError
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import AttemptEnded, JobExecution, StepSettings, Target
from sqlfleet.secrets import Secret
from sqlfleet.store import ClaimedTarget, JobStore, Outcome, StepStart
from sqlfleet.targets import Login
from sqlfleet.targets.resolve import resolve_group

log = logging.getLogger("sqlfleet.engine")

# An output connection nobody wrote to for this long is closed (reopened when needed).
OUTPUT_IDLE_SECONDS = 60.0
# A step's plan (its job version, logins and output writer) that no target used for this long
# is forgotten: an agent that runs for weeks keeps only what it is running, and a changed
# credential is read again.
PLAN_IDLE_SECONDS = 60.0

P = ParamSpec("P")
R = TypeVar("R")
PlanKey = tuple[int, int, int]
LoginSource = Callable[[str], tuple[str, Secret]]


@dataclass(frozen=True, slots=True)
class DispatcherSettings:
    """How a dispatcher paces itself."""

    concurrency: int = 100
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 0.5
    watch_interval: float = 0.5
    # Outcomes are written together: one transaction for many costs the job database (and
    # the event loop, through the GIL) far less than one each. A batch is written when it
    # holds `concurrency` outcomes or its first outcome has waited this long.
    outcome_batch_seconds: float = 0.1
    # When stopping, how long to keep trying to record outcomes while the job database is away.
    final_write_seconds: float = 15.0
    # Notifications: the web UI's address (for links), how they are sent, and how long a
    # process that stops waits for those under way before leaving them to another one.
    web_url: str | None = None
    notify: NotifierSettings = field(default_factory=NotifierSettings)
    notify_wait: float = 5.0


class Dispatcher:
    """Runs target executions for one agent (or for one execution, with `sqlfleet run`)."""

    def __init__(
        self,
        store: JobStore,
        logins: LoginSource,
        *,
        agent_name: str,
        settings: DispatcherSettings | None = None,
        clock: Clock = utcnow,
        job_execution_id: int | None = None,
        decrypt: Decrypt | None = None,
    ) -> None:
        self.store = store
        self.agent_name = agent_name
        # Told of every attempt that ends here (metrics): quick calls, on the event loop.
        self.observers: list[Callable[[AttemptEnded], None]] = []
        self.settings = settings or DispatcherSettings()
        self.clock = clock
        self.job_execution_id = job_execution_id
        self._login_source = logins
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlfleet-store")
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        # Target connections, reused between a step's targets; as many as slots at most.
        self.sessions = Sessions(self.settings.concurrency)
        self._inflight: dict[int, asyncio.Task[None]] = {}
        # Claimed targets whose attempt has not begun (waiting for a connection slot).
        self._unstarted: set[int] = set()
        self._cancel_reasons: dict[int, str] = {}
        self._pending: list[Outcome] = []
        self._outcomes_ready = asyncio.Event()
        self._batch_full = asyncio.Event()
        # An outcome of a staged step was recorded: its rollout may open a wave or halt.
        self._staged_outcomes = False
        self._write_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._plans: dict[PlanKey, StepPlan] = {}
        # How many targets use each plan now, and when one last started with it (monotonic).
        self._plan_users: dict[PlanKey, int] = {}
        self._plan_used: dict[PlanKey, float] = {}
        self._plan_lock = asyncio.Lock()
        self._writers: dict[PlanKey, OutputWriter | None] = {}
        self._logins: dict[str, Login] = {}
        self._claiming = True
        self._steps_may_be_ready = True
        self._targets_may_be_due = True
        self._rollouts_may_move = True
        self._next_poll = 0.0
        # Without a way to decrypt webhooks (a bare dispatcher), notifications wait for
        # another process to send them.
        self.notifier = (
            None
            if decrypt is None
            else Notifier(
                store,
                decrypt,
                self.db,
                holder=agent_name,
                web_url=self.settings.web_url,
                clock=clock,
                settings=self.settings.notify,
                job_execution_id=job_execution_id,
            )
        )

    @property
    def running(self) -> int:
        """How many target executions this dispatcher holds right now."""
        return len(self._inflight)

    @property
    def held_plans(self) -> int:
        """How many step plans (job version, logins, output writer) this dispatcher keeps."""
        return len(self._plans)

    @property
    def not_started(self) -> frozenset[int]:
        """Claimed targets whose attempt never began (their claim is no attempt)."""
        return frozenset(self._unstarted)

    async def db(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a job-database call on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, lambda: call(*args, **kwargs))

    async def db_patiently(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """`db`, waiting out a job database that is away (a restart, a short outage)."""
        while True:
            try:
                return await self.db(call, *args, **kwargs)
            except JobDatabaseUnavailable:
                await self._back_off()

    async def _back_off(self) -> None:
        """Wait before asking a failing job database again: longer as failures go on."""
        await asyncio.sleep(self.store.availability.retry_delay(self.settings.poll_interval))

    def wake(self) -> None:
        """Look for new work now rather than at the next poll."""
        self._wake.set()

    def work_announced(self) -> None:
        """An execution was created (or anything may have changed): look for steps to start
        now rather than at the next poll."""
        self._steps_may_be_ready = True
        self.wake()

    # -- running --------------------------------------------------------------------------------

    async def run_execution(self, stop: asyncio.Event | None = None) -> JobExecution:
        """Run `job_execution_id` until it ends; return it as it ended.

        Setting `stop` cancels the execution: running statements are canceled on the server,
        and every target this process holds ends Canceled before this returns.
        """
        assert self.job_execution_id is not None
        execution_id = self.job_execution_id
        async with asyncio.TaskGroup() as group:
            background = self._start_background(group)
            if stop is not None:
                background.append(
                    group.create_task(self._cancel_when(stop, execution_id), name="interrupt")
                )
            while True:
                try:
                    busy = await self._dispatch(group)
                    if not busy and not self._inflight and not self._pending:
                        execution = await self.db(self.store.get_execution, execution_id)
                        if execution.lifecycle.is_terminal:
                            break
                except StoreError as exc:
                    await self._trouble("looking for work", exc)
                await self._sleep()
            await self._stop_background(background)
        execution = await self.db_patiently(self.store.get_execution, execution_id)
        await self.close()
        return execution

    async def serve(self, stop: asyncio.Event) -> None:
        """Run work from every execution until `stop` is set, then drain what is running."""
        async with asyncio.TaskGroup() as group:
            background = self._start_background(group)
            while not stop.is_set():
                try:
                    await self._dispatch(group)
                except StoreError as exc:
                    await self._trouble("looking for work", exc)
                await self._sleep()
            self._claiming = False
            try:
                while self._inflight:
                    await self._sleep()
            finally:
                await self._stop_background(background)
        await self.close()

    async def _cancel_when(self, stop: asyncio.Event, execution_id: int) -> None:
        """Once `stop` is set: cancel the execution, and what runs here, now."""
        await stop.wait()
        self._claiming = False
        reason = "canceled: the run was interrupted"
        while True:
            try:
                await self.db(
                    self.store.cancel_execution, execution_id, now=self.clock(), message=reason
                )
            except InvalidValue:
                pass  # it had ended already
            except StoreError as exc:
                await self._trouble("canceling the execution", exc)
                continue
            break
        self._cancel(list(self._inflight), reason)
        self.wake()
        if self.notifier is not None:
            self.notifier.wake()

    def _start_background(self, group: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        tasks = [
            group.create_task(self._record_outcomes(), name="record-outcomes"),
            group.create_task(self._watch(), name="watch-leases-and-cancels"),
        ]
        if self.notifier is not None:
            tasks.append(group.create_task(self.notifier.run(), name="notifier"))
        return tasks

    async def close(self) -> None:
        """Send what notifications there is time for; close output and target connections
        and the store thread."""
        if self.notifier is not None:
            await self.notifier.drain(self.settings.notify_wait)
        for writer in self._writers.values():
            if writer is not None:
                await writer.close()
        self._writers.clear()
        await self.sessions.close()
        await asyncio.to_thread(self._db.shutdown, wait=True)

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.poll_interval):
                await self._wake.wait()
        self._wake.clear()

    async def _dispatch(self, group: asyncio.TaskGroup) -> bool:
        """Start ready steps and claim due targets; True if anything was found."""
        if not self._claiming:
            return False
        # Asking the job database costs the event loop too (the GIL): ask for steps only when
        # a step ended or a poll interval passed, and for targets only when there is room.
        now = asyncio.get_running_loop().time()
        found = False
        if self._steps_may_be_ready or now >= self._next_poll:
            self._steps_may_be_ready = False
            self._rollouts_may_move = True
            self._next_poll = now + self.settings.poll_interval
            self._targets_may_be_due = True
            while True:
                step = await self.db(
                    self.store.claim_step_start,
                    self.agent_name,
                    now=self.clock(),
                    lease=self.settings.lease,
                    job_execution_id=self.job_execution_id,
                )
                if step is None:
                    break
                found = True
                await self._start_step(step)
        if self._rollouts_may_move:
            # Outcomes were recorded (or time passed): a wave may open, a step may halt.
            self._rollouts_may_move = False
            if await rollout.advance(self.db, self.store, self.job_execution_id, self.clock()):
                self._targets_may_be_due = True
                self._steps_may_be_ready = True
                if self.notifier is not None:
                    self.notifier.wake()  # a rollout may have halted
        if self._room_to_claim() and self._targets_may_be_due:
            capacity = 2 * self.settings.concurrency - len(self._inflight)
            claimed = await self.db(
                self.store.claim_targets,
                self.agent_name,
                capacity,
                now=self.clock(),
                lease=self.settings.lease,
                job_execution_id=self.job_execution_id,
            )
            for target in claimed:
                self._unstarted.add(target.id)
                self._inflight[target.id] = group.create_task(
                    self._run_target(target), name=f"target-execution-{target.id}"
                )
            # Fewer than asked for: nothing more is due until a step starts or time passes.
            self._targets_may_be_due = len(claimed) == capacity
            found = found or bool(claimed)
        return found

    def _room_to_claim(self) -> bool:
        """Whether enough targets ended to claim more (up to twice `concurrency` are held).

        A claim costs the job database nearly as much for a few targets as for many: one is
        made when `concurrency` targets can be claimed, while the targets already held keep
        every connection slot busy.
        """
        capacity = 2 * self.settings.concurrency - len(self._inflight)
        return capacity >= self.settings.concurrency or not self._inflight

    # -- steps ----------------------------------------------------------------------------------

    async def _start_step(self, step: StepStart) -> None:
        """Resolve a step's target group and create its target executions."""
        try:
            job = await self.db(self.store.get_job_by_id, step.job_id, step.job_version)
            settings = next(s for s in job.steps if s.step_id == step.step_id).settings
            # A re-run's step runs where the original left targets to run again.
            rerun = None
            if step.rerun_of is not None:
                rerun = await self.db(self.store.rerun_targets, step)
            targets = rerun if rerun is not None else await self._resolve(settings)
        except SqlfleetError as exc:
            log.warning(
                "step %s of execution %s: %s",
                step.step_id,
                step.job_execution_id,
                exc.message,
                extra={
                    "job": step.job_name,
                    "job_execution_id": step.job_execution_id,
                    "step": step.step_id,
                },
            )
            await self.db(
                self.store.fail_step,
                step,
                self.agent_name,
                f"resolving the target group failed: {exc.message}",
                now=self.clock(),
            )
            if self.notifier is not None:
                self.notifier.wake()
            return
        await self.db(
            self.store.add_targets,
            step,
            self.agent_name,
            targets,
            now=self.clock(),
            waves=rollout.waves(settings, len(targets)),
        )

    async def _resolve(self, settings: StepSettings) -> list[Target]:
        group = await self.db(self.store.get_target_group, settings.target_group)
        refresh = {m.refresh_credential for m in group.members if m.refresh_credential}
        logins = {name: await self._login(name) for name in refresh}
        return await resolve_group(
            group,
            default_login=await self._login(settings.credential),
            logins=logins,
            connect_timeout=float(settings.connect_timeout_seconds),
        )

    async def _login(self, credential: str) -> Login:
        login = self._logins.get(credential)
        if login is None:
            username, secret = await self.db(self._login_source, credential)
            login = self._logins[credential] = Login(username, secret)
        return login

    async def _plan(self, claimed: ClaimedTarget) -> tuple[StepPlan, OutputWriter | None]:
        """The plan of a claimed target's step, held until `_release_plan`."""
        key = (claimed.job_id, claimed.job_version, claimed.step_id)
        if key not in self._plans:
            async with self._plan_lock:  # one load per step, however many targets ask at once
                if key not in self._plans:
                    await self._load_plan(claimed, key)
        self._plan_users[key] = self._plan_users.get(key, 0) + 1
        self._plan_used[key] = asyncio.get_running_loop().time()
        return self._plans[key], self._writers[key]

    def _release_plan(self, claimed: ClaimedTarget) -> None:
        key = (claimed.job_id, claimed.job_version, claimed.step_id)
        self._plan_users[key] -= 1

    async def _forget_idle_plans(self) -> None:
        """Drop the plans no target used for PLAN_IDLE_SECONDS, their writers and logins."""
        now = asyncio.get_running_loop().time()
        idle = [
            key
            for key, used in self._plan_used.items()
            if not self._plan_users.get(key) and now - used >= PLAN_IDLE_SECONDS
        ]
        for key in idle:
            del self._plans[key], self._plan_used[key]
            self._plan_users.pop(key, None)
            writer = self._writers.pop(key, None)
            if writer is not None:
                await writer.close()
        if idle:
            needed = {p.step.settings.credential for p in self._plans.values()} | {
                p.step.settings.output.credential
                for p in self._plans.values()
                if p.step.settings.output is not None
            }
            for credential in set(self._logins) - needed:
                del self._logins[credential]

    async def _load_plan(self, claimed: ClaimedTarget, key: PlanKey) -> None:
        job = await self.db(self.store.get_job_by_id, claimed.job_id, claimed.job_version)
        step = next(s for s in job.steps if s.step_id == claimed.step_id)
        output = step.settings.output
        plan = StepPlan(
            job,
            step,
            await self._login(step.settings.credential),
            await self._login(output.credential) if output else None,
        )
        self._plans[key] = plan
        self._writers[key] = OutputWriter(output, plan.output_login) if output else None

    # -- targets --------------------------------------------------------------------------------

    async def _run_target(self, claimed: ClaimedTarget) -> None:
        try:
            try:
                plan, writer = await self._plan(claimed)
                try:
                    async with self._slots:
                        self._unstarted.discard(claimed.id)
                        outcome = await run_attempt(
                            claimed, plan, writer, self.clock, self.sessions
                        )
                finally:
                    self._release_plan(claimed)
            except StoreError as exc:
                # Not the target's fault: try it again shortly.
                now = self.clock()
                outcome = claimed.ended(
                    Lifecycle.WAITING_FOR_RETRY,
                    now,
                    exc.message,
                    next_attempt_start_time=now + timedelta(seconds=5),
                )
            except SqlfleetError as exc:
                outcome = claimed.ended(Lifecycle.FAILED, self.clock(), exc.message)
            except Exception as exc:  # a defect must fail one target, not stop the agent
                log.exception(
                    "target execution %s failed unexpectedly",
                    claimed.id,
                    extra={
                        "job_execution_id": claimed.job_execution_id,
                        "step": claimed.step_id,
                        "target_execution_id": claimed.id,
                    },
                )
                outcome = claimed.ended(
                    Lifecycle.FAILED, self.clock(), f"internal error: {type(exc).__name__}"
                )
            except asyncio.CancelledError:
                reason = self._cancel_reasons.pop(claimed.id, None)
                if reason is None:
                    raise  # shutting down: the lease lets another agent take it over
                started = claimed.id not in self._unstarted
                outcome = canceled(claimed, self.clock, reason, started=started)
        finally:
            self._inflight.pop(claimed.id, None)
            # A cancel that came as the attempt ended leaves a reason nobody read.
            self._cancel_reasons.pop(claimed.id, None)
        self._unstarted.discard(claimed.id)
        if self._targets_may_be_due and self._room_to_claim():
            self.wake()  # outcomes are written in batches: do not wait for one to claim more
        self._pending.append(outcome)
        self._outcomes_ready.set()
        if len(self._pending) >= self.settings.concurrency or not self._inflight:
            # Full, or the last one running: no outcome is coming to join the batch.
            self._batch_full.set()
        loaded = self._plans.get((claimed.job_id, claimed.job_version, claimed.step_id))
        if loaded is None or loaded.step.settings.has_rollout:
            self._staged_outcomes = True
        if self.observers:
            self._observe(claimed, outcome)

    def _observe(self, claimed: ClaimedTarget, outcome: Outcome) -> None:
        plan = self._plans.get((claimed.job_id, claimed.job_version, claimed.step_id))
        ended = AttemptEnded(
            job_name=plan.job.name if plan else f"job {claimed.job_id}",
            step_name=plan.step.name if plan else f"step {claimed.step_id}",
            lifecycle=outcome.lifecycle,
            seconds=max(0.0, (outcome.end_time - outcome.attempt_start_time).total_seconds()),
        )
        for observe in self.observers:
            observe(ended)

    async def _trouble(self, doing: str, exc: StoreError) -> None:
        """The job database failed: say so, and back off before trying again."""
        if not isinstance(exc, JobDatabaseUnavailable):  # an outage is logged once, by the store
            log.warning("agent %s: %s: %s", self.agent_name, doing, exc.message)
        await self._back_off()

    async def _record_outcomes(self) -> None:
        """Write outcomes in batches: while one batch is written, the next one gathers."""
        while True:
            await self._outcomes_ready.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.outcome_batch_seconds):
                    await self._batch_full.wait()
            self._outcomes_ready.clear()
            self._batch_full.clear()
            try:
                await self._flush()
            except StoreError as exc:
                self._outcomes_ready.set()  # the batch went back to the queue: try again
                await self._trouble("recording outcomes", exc)

    async def _flush(self) -> None:
        """Write the pending outcomes (and wait for a write already under way)."""
        async with self._write_lock:
            batch, self._pending = self._pending, []
            staged, self._staged_outcomes = self._staged_outcomes, False
            if batch:
                # Shielded: an outcome that happened must be written even while shutting down.
                try:
                    finished_steps = await asyncio.shield(
                        self.db(
                            self.store.record_outcomes, self.agent_name, batch, now=self.clock()
                        )
                    )
                except StoreError:
                    self._pending[:0] = batch
                    self._staged_outcomes |= staged
                    raise
                # Only a staged step's outcomes can move a rollout; the others' steps have
                # none, and a poll interval looks anyway (other agents record outcomes too).
                self._rollouts_may_move |= staged
                if finished_steps:
                    self._steps_may_be_ready = True
                    if self.notifier is not None:
                        self.notifier.wake()  # an execution may have ended
                    self.sessions.step_ended(finished_steps)
                if any(o.lifecycle is Lifecycle.WAITING_FOR_RETRY for o in batch):
                    self._targets_may_be_due = True
                self.wake()

    async def _stop_background(self, tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        deadline = asyncio.get_running_loop().time() + self.settings.final_write_seconds
        while True:
            try:
                await self._flush()
                return
            except JobDatabaseUnavailable:
                if asyncio.get_running_loop().time() >= deadline:
                    break
                await self._back_off()
            except StoreError:
                break
        if self._pending:
            # The leases run out and another agent runs these targets again.
            log.error(
                "agent %s: %d outcome(s) not recorded: the job database did not answer; "
                "their targets run again when their leases run out",
                self.agent_name,
                len(self._pending),
            )

    async def _watch(self) -> None:
        """Extend leases and cancel targets whose execution was stopped."""
        renew_every = max(self.settings.lease.total_seconds() / 3, self.settings.watch_interval)
        last_renewal = self.clock()
        while True:
            await asyncio.sleep(self.settings.watch_interval)
            try:
                if self._inflight:
                    self._cancel(
                        await self.db(self.store.canceled_running_targets, self.agent_name),
                        "canceled: the execution was stopped",
                    )
                now = self.clock()
                await self.sessions.sweep()
                for writer in list(self._writers.values()):
                    if writer is not None:
                        await writer.close_if_idle(OUTPUT_IDLE_SECONDS)
                await self._forget_idle_plans()
                if (now - last_renewal).total_seconds() >= renew_every:
                    await self.db(
                        self.store.extend_leases, self.agent_name, until=now + self.settings.lease
                    )
                    last_renewal = now
            except StoreError as exc:
                await self._trouble("extending leases", exc)

    def _cancel(self, target_ids: list[int], reason: str) -> None:
        for target_id in target_ids:
            task = self._inflight.get(target_id)
            if task is not None and target_id not in self._cancel_reasons:
                self._cancel_reasons[target_id] = reason
                task.cancel()
