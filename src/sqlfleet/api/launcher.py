"""Starting an execution from the web: who runs it once it is created.

Until the long-running agent exists, `InProcessLauncher` runs each execution in a background
task of the web server. With an agent (`sqlfleet up`), `AgentLauncher` only creates the
execution and lets the agent claim it. The routes see only the `Launcher` protocol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from sqlfleet.fleet import Fleet
from sqlfleet.model import JobExecution

log = logging.getLogger("sqlfleet.api")


class Launcher(Protocol):
    """Creates an execution of a job and sees that something runs it."""

    async def start(self, fleet: Fleet, job: str) -> JobExecution:
        """Create an execution of `job`'s current version; return it as created."""
        ...

    async def launch(self, fleet: Fleet, create: Callable[[], JobExecution]) -> JobExecution:
        """Create an execution with `create` (a re-run, say); return it as created."""
        ...

    async def aclose(self) -> None:
        """The server is stopping: let go of what runs here."""
        ...


async def _create(fleet: Fleet, create: Callable[[], JobExecution]) -> JobExecution:
    def checked() -> JobExecution:
        fleet.secrets  # noqa: B018 -- a wrong key fails here, before anything is created
        return create()

    return await run_in_threadpool(checked)


class AgentLauncher:
    """Only creates the execution: an agent sharing the job database runs it."""

    async def start(self, fleet: Fleet, job: str) -> JobExecution:
        """Create the execution for the agents."""
        return await self.launch(fleet, lambda: fleet.create_execution(job, trigger="manual"))

    async def launch(self, fleet: Fleet, create: Callable[[], JobExecution]) -> JobExecution:
        """Create the execution for the agents."""
        return await _create(fleet, create)

    async def aclose(self) -> None:
        """Nothing runs here."""


class InProcessLauncher:
    """Runs each execution in a background task of the web server's event loop."""

    def __init__(self, *, concurrency: int = 100) -> None:
        self.concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        """How many executions run here now."""
        return len(self._tasks)

    async def start(self, fleet: Fleet, job: str) -> JobExecution:
        """Create the execution and start running it here."""
        return await self.launch(fleet, lambda: fleet.create_execution(job, trigger="manual"))

    async def launch(self, fleet: Fleet, create: Callable[[], JobExecution]) -> JobExecution:
        """Create the execution with `create` and start running it here."""
        execution = await _create(fleet, create)
        task = asyncio.create_task(
            self._run(fleet, execution.id), name=f"sqlfleet-execution-{execution.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return execution

    async def _run(self, fleet: Fleet, execution_id: int) -> None:
        try:
            ended = await fleet.run_execution(execution_id, concurrency=self.concurrency)
        except Exception:
            log.exception(
                "execution %s stopped running on an error",
                execution_id,
                extra={"job_execution_id": execution_id},
            )
        else:
            log.info(
                "execution %s ended %s",
                execution_id,
                ended.lifecycle.value,
                extra={"job": ended.job_name, "job_execution_id": execution_id},
            )

    async def aclose(self) -> None:
        """Stop running (what was running is taken over by an agent when its lease expires)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
