"""What the engine needs to run one step on any target, loaded once per step version."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlfleet.model import Job, OutputDestination, Step, Target
from sqlfleet.script import Batch, read_batches, refers
from sqlfleet.statements import Statement, read_script
from sqlfleet.targets import Login


@dataclass(frozen=True, slots=True)
class StepPlan:
    """A step of a pinned job version with its credentials decrypted, ready to run."""

    job: Job
    step: Step
    login: Login
    output_login: Login | None
    # Split once per step, before substitution: a variable's value cannot add a GO, nor end
    # a statement.
    batches: list[Batch] = field(init=False)
    # Whether any batch refers to a variable: a script without one is the same for every
    # target, and is not rendered again for each.
    has_references: bool = field(init=False)
    _statements: dict[str, list[list[Statement]]] = field(init=False)

    def __post_init__(self) -> None:
        batches = read_batches(self.step.settings.command)
        object.__setattr__(self, "batches", batches)
        object.__setattr__(self, "has_references", any(refers(b.text) for b in batches))
        object.__setattr__(self, "_statements", {})

    def statements(self, engine: str) -> list[list[Statement]]:
        """Each batch's statements as `engine`'s client reads them; `InvalidCommand` if it
        cannot read them (its message starts with the line number)."""
        read = self._statements.get(engine)
        if read is None:
            # Checked again here, not only when the step was defined: its target group may
            # have gained servers of another engine since.
            allow = self.step.settings.allow_database_switch
            read = read_script(engine, self.batches, allow_database_switch=allow)
            self._statements[engine] = read
        return read

    @property
    def output(self) -> OutputDestination | None:
        """Where the first result set goes, if anywhere."""
        return self.step.settings.output

    def variables(self, job_execution_id: int, target: Target) -> dict[str, object]:
        """The `$(name)` variables of one target's script: the built-in ones and its own.

        A target's own variables never shadow a built-in one (their names are refused when
        they are defined or resolved), so the built-in values win only in theory.
        """
        return {
            **target.variable_map,
            "job_name": self.job.name,
            "job_id": self.job.id,
            "job_version": self.job.version,
            "job_execution_id": job_execution_id,
            "step_id": self.step.step_id,
            "step_name": self.step.name,
            "target_group_name": self.step.settings.target_group,
            "target_server_name": target.server_url,
            "target_database_name": target.database,
        }
