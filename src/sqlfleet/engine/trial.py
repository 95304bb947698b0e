"""Trials: an execution whose targets run their batches in a transaction that is rolled back.

Only engines whose DDL is transactional can be tried (PostgreSQL, SQLite): MySQL/MariaDB
commit DDL at once, so a trial there is refused before anything is created.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlfleet.errors import InvalidValue
from sqlfleet.masking import mask_url
from sqlfleet.model import Job, TargetGroup
from sqlfleet.servers import ServerUrl
from sqlfleet.targets import driver_for


def check_trial(job: Job, groups: Callable[[str], TargetGroup]) -> None:
    """InvalidValue if a step of `job` has targets on an engine that cannot be tried."""
    for step in job.steps:
        group = groups(step.settings.target_group)
        for member in group.members:
            if member.exclude:
                continue
            driver = driver_for(ServerUrl.parse(member.server_url))
            if driver.trial_statements is None:
                raise InvalidValue(
                    f"a trial is refused: step {step.name!r} runs on "
                    f"{mask_url(member.server_url)}, and {driver.engine} commits DDL at once, "
                    "so a transaction that is rolled back could not undo it"
                )
