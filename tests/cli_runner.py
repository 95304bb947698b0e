"""Running the `sqlfleet` command line in-process, as a user would type it."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from sqlfleet.cli import main


@dataclass
class Result:
    """What a command printed and returned."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs `sqlfleet --job-db URL ...` in this process and captures what it prints."""

    def __init__(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        job_db: str | None,
    ):
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.job_db = job_db

    def __call__(self, *args: str, stdin: str = "") -> Result:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        argv = (["--job-db", self.job_db] if self.job_db else []) + list(args)
        code = main(argv)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str, stdin: str = "") -> Result:
        """Run a command that must succeed."""
        result = self(*args, stdin=stdin)
        assert result.code == 0, f"sqlfleet {' '.join(args)} failed: {result.err}"
        return result
