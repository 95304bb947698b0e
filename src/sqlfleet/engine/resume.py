"""Resuming an execution in this process after whatever ran it went away.

`sqlfleet run` holds its targets under a name of its own, `run-<host>-<pid>`, with leases it
renews like an agent. When such a process is killed, `resume` takes its targets back at once
if it ran on this host (its pid is gone), or when its leases run out if it ran elsewhere. It
refuses while a running agent, or a `run` process alive on this host, holds the execution.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlfleet.errors import InvalidValue
from sqlfleet.store import AgentInfo, JobStore, LeaseHold


def run_holder_name() -> str:
    """The name this process's `run` claims targets under."""
    return f"run-{socket.gethostname()}-{os.getpid()}"


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _run_holder_gone_here(name: str) -> bool:
    """True when `name` is a `run` of this host whose process has ended."""
    prefix = f"run-{socket.gethostname()}-"
    pid = name.removeprefix(prefix)
    return name.startswith(prefix) and pid.isdigit() and _pid_gone(int(pid))


def _agent_gone_here(agent: AgentInfo) -> bool:
    return agent.hostname == socket.gethostname() and _pid_gone(agent.pid)


def take_back_from_the_gone(store: JobStore, execution_id: int, *, now: datetime) -> int:
    """Take back the execution's targets whose holder is known to be gone; how many.

    Known gone: a process of this host (a registered agent, or a `run`) whose pid is no more.
    What a holder elsewhere has waits for its lease to run out.
    """
    agents = {a.name: a for a in store.list_agents()}
    taken = 0
    for holder in store.lease_holders(execution_id, now=now):
        agent = agents.get(holder)
        if (agent is not None and _agent_gone_here(agent)) or _run_holder_gone_here(holder):
            taken += store.take_back_from(holder, now=now)
    return taken


def prepare_resume(store: JobStore, execution_id: int, *, now: datetime) -> list[str]:
    """Check that the execution can be resumed here and take back what dead holders had.

    Raises InvalidValue when it ended, or when a live holder runs it. Returns notes on the
    leases that must run out before their targets run here (holders on other hosts, whose
    life cannot be checked from here).
    """
    execution = store.get_execution(execution_id)
    if execution.lifecycle.is_terminal:
        raise InvalidValue(
            f"execution {execution_id} already ended {execution.lifecycle.value}: "
            "there is nothing to resume"
        )
    agents = {a.name: a for a in store.list_agents()}
    running: list[str] = []
    notes: list[str] = []
    for holder, hold in sorted(store.lease_holders(execution_id, now=now).items()):
        agent = agents.get(holder)
        if agent is not None and not _agent_gone_here(agent):
            running.append(f"agent {holder!r} ({_held(hold)})")
        elif agent is not None or _run_holder_gone_here(holder):
            store.take_back_from(holder, now=now)
        elif holder.startswith(f"run-{socket.gethostname()}-"):
            running.append(f"{holder!r}, a `sqlfleet run` alive on this host ({_held(hold)})")
        else:
            notes.append(
                f"{_held(hold)} held by {holder!r}: they run here when that lease runs out "
                f"(at {hold.until:%H:%M:%S} UTC unless {holder!r} is still alive)"
            )
    if running:
        raise InvalidValue(
            f"execution {execution_id} is still being run by {', '.join(running)}: "
            f"let it finish, or stop it with `sqlfleet stop {execution_id}`"
        )
    return notes


def _held(hold: LeaseHold) -> str:
    return f"{hold.count} target(s) or step(s) under a live lease"
