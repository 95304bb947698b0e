"""Staged rollouts: canary targets first, then waves, and a failure budget that halts a step.

A step's targets are numbered in resolution order and put in waves when the step starts:
wave 0 is the canary (its first `canary` targets), the rest follow in waves of `wave_size`.
A target may start once its step has opened its wave; a wave opens when every earlier target
has ended (and `wave_pause_seconds` later). A step halts when a canary target fails or when
`max_failures` targets have failed: the targets not started yet end Canceled "not started:
..." naming the rule, those running finish, and the step ends Failed.

The decisions here are pure; `advance` applies them through the store's guarded verbs, so
any agent may call it at any time, as often as it likes.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlfleet.model import RolloutProgress, StepSettings

STATUS_PREFIX = "not started: "


def share_of(share: str, total: int) -> int:
    """How many targets a share (`N` or `P%`) is out of `total`: at least 1."""
    if share.endswith("%"):
        return max(1, math.ceil(int(share[:-1]) * total / 100))
    return int(share)


def waves(settings: StepSettings, total: int) -> list[int | None]:
    """The wave of each of `total` targets in resolution order; None where none is staged."""
    if not settings.canary and settings.wave_size is None:
        return [None] * total
    assigned: list[int | None] = []
    canary = min(settings.canary or 0, total)
    assigned.extend([0] * canary)
    rest = total - canary
    first = 1 if canary else 0
    size = share_of(settings.wave_size, rest) if settings.wave_size is not None else rest
    size = max(size, 1)
    assigned.extend(first + i // size for i in range(rest))
    return assigned


def failure_budget(settings: StepSettings, total: int) -> int | None:
    """How many failed targets halt the step, if it has a budget."""
    if settings.max_failures is None:
        return None
    return share_of(settings.max_failures, total)


@dataclass(frozen=True, slots=True)
class Halt:
    """Stop starting targets: the not-started ones end Canceled with `message`."""

    message: str


@dataclass(frozen=True, slots=True)
class OpenWave:
    """Let the targets of `wave` start, `pause_seconds` from now."""

    wave: int
    pause_seconds: float


def decide(progress: RolloutProgress) -> Halt | OpenWave | None:
    """What a staged step should do next, from where it stands."""
    settings = progress.settings
    if progress.not_started == 0:
        return None
    if settings.canary and progress.canary_failed:
        return Halt(
            f"{STATUS_PREFIX}{progress.canary_failed} of the {settings.canary} canary "
            "target(s) failed (canary)"
        )
    budget = failure_budget(settings, progress.total)
    if budget is not None and progress.failed >= budget:
        return Halt(
            f"{STATUS_PREFIX}{progress.failed} target(s) failed, the failure budget "
            f"max_failures={settings.max_failures} ({budget} of {progress.total}) was reached"
        )
    current = progress.open_wave
    if current is None:
        return None
    if any(
        n for wave, n in progress.unfinished_by_wave.items() if wave is not None and wave <= current
    ):
        return None
    later = [
        w for w, n in progress.unfinished_by_wave.items() if w is not None and w > current and n
    ]
    if not later:
        return None
    return OpenWave(min(later), settings.wave_pause_seconds)


Db = Callable[..., Awaitable[Any]]


async def advance(db: Db, store: Any, job_execution_id: int | None, now: datetime) -> bool:
    """Halt or open waves of the staged steps that need it; True if any step moved.

    `db` runs a store verb off the event loop (the dispatcher's `db`). Each verb is guarded
    in SQL, so two agents deciding the same move make it once.
    """
    moved = False
    for progress in await db(store.rollout_progress, job_execution_id):
        move = decide(progress)
        if isinstance(move, Halt):
            moved |= await db(store.halt_rollout, progress.step_execution_id, move.message, now=now)
        elif isinstance(move, OpenWave):
            moved |= await db(
                store.open_wave,
                progress.step_execution_id,
                progress.open_wave,
                move.wave,
                start_at=now + timedelta(seconds=move.pause_seconds),
            )
    return moved
