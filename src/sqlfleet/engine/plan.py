"""What the engine needs to run one step on any target, loaded once per step version."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlfleet.model import Job, OutputDestination, Step
from sqlfleet.script import split_batches
from sqlfleet.targets import Login


@dataclass(frozen=True, slots=True)
class StepPlan:
    """A step of a pinned job version with its credentials decrypted, ready to run."""

    job: Job
    step: Step
    login: Login
    output_login: Login | None
    # Split once per step, before substitution: a variable's value cannot add a GO.
    batches: list[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "batches", split_batches(self.step.settings.command))

    @property
    def output(self) -> OutputDestination | None:
        """Where the first result set goes, if anywhere."""
        return self.step.settings.output

    def variables(self, job_execution_id: int, server: str, database: str) -> dict[str, object]:
        """The `$(name)` variables of one target's script."""
        return {
            "job_name": self.job.name,
            "job_id": self.job.id,
            "job_version": self.job.version,
            "job_execution_id": job_execution_id,
            "step_id": self.step.step_id,
            "step_name": self.step.name,
            "target_group_name": self.step.settings.target_group,
            "target_server_name": server,
            "target_database_name": database,
        }
