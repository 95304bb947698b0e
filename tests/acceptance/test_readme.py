"""The README, followed as a newcomer follows it: every command in it runs as written.

The repository's tracked files are copied into a fresh folder (as a clone would make it),
with the installed `.venv` linked in place of running `scripts/install` again. Every `sh`
block runs in order in one bash, each command must exit 0; commands that serve until stopped
(`sqlfleet up`, `web`, `agent`) run in the background until they say they are up, and are
stopped at the end of their block. A `yaml` block that starts with `# NAME` is written to
NAME where it stands, as a reader would save it. The `python` and `sql` blocks run too.

Left out, with the reason: `scripts/demo` (it installs, then serves until Ctrl-C: the demo is
tested by test_demo.py) and `scripts/test` (the whole test suite, this test among them).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = {"scripts/demo", "scripts/test"}
SERVERS = re.compile(r"^sqlfleet (up|web|agent)\b(?! list)")
DEFAULT_PORT = 8080


def blocks(readme: str) -> list[tuple[str, str]]:
    """The README's fenced blocks: (language, text)."""
    return re.findall(r"^```(\w*)\n(.*?)^```", readme, flags=re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[str]:
    """The commands of an `sh` block: continuation lines joined, comments kept (bash skips
    them)."""
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def script_of(readme: str) -> tuple[str, list[str]]:
    """A bash script that runs every `sh` block; and the commands it runs."""
    lines = [
        "set -uo pipefail",
        'fail() { echo "README command failed (exit $1): $2" >&2; exit 1; }',
        # A server runs in the background until it has said it is up.
        "serve() {",
        '  local log; log=$(mktemp); eval "exec $1" >"$log" 2>&1 & servers+=($!)',
        "  for _ in $(seq 600); do",
        '    grep -qE "$2" "$log" && return 0',
        '    kill -0 "${servers[-1]}" 2>/dev/null || { cat "$log" >&2; fail 1 "$1"; }',
        "    sleep 0.1",
        "  done",
        '  cat "$log" >&2; fail 1 "$1 (not up after 60 s)"',
        "}",
        "stop_servers() {",
        '  for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null; wait "$pid"; done',
        "  servers=()",
        "}",
        "servers=()",
    ]
    ran = []
    port_note = "" if port_free(DEFAULT_PORT) else " --port 0"  # taken by someone else here
    for language, text in blocks(readme):
        named = re.match(r"# (\S+)\n", text)
        if language in ("yaml", "yml") and named:
            # A file the README shows (`# fleet.yaml`) is there when the commands after it run.
            lines.append(f"cat > {shlex_quote(named[1])} <<'README_FILE'\n{text}README_FILE")
            continue
        if language != "sh":
            continue
        for command in commands(text):
            bare = command.split("#", 1)[0].strip()
            if not bare or bare in LEFT_OUT:
                continue
            ran.append(bare)
            if SERVERS.match(bare):
                agent = bare.split()[1] == "agent"
                ready = "agent .*: running on" if agent else "http://"
                extra = "" if agent else port_note
                if not agent:  # `up` and `web` are alternatives: one listens at a time
                    lines.append("stop_servers")
                lines.append(f"serve {shlex_quote(bare + extra)} {shlex_quote(ready)}")
            else:
                # A comment that says "exit N" documents that the command exits N there.
                expected = re.search(r"#.*\bexit (\d+)", command)
                code = expected[1] if expected else "0"
                lines.append(
                    f"{command}\nstatus=$?; [ $status -eq {code} ] || fail $status {shlex_quote(bare)}"
                )
        lines.append("stop_servers")
    return "\n".join(lines) + "\n", ran


def shlex_quote(text: str) -> str:
    return shlex.quote(text)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The repository's tracked files in a fresh folder, with the installed .venv linked."""
    folder = tmp_path / "sqlfleet"
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    return folder


def test_every_command_in_the_readme_runs_as_written(clone: Path) -> None:
    readme = (clone / "README.md").read_text()
    script, ran = script_of(readme)
    assert any(c.startswith("sqlfleet run ") for c in ran) and len(ran) > 20, ran
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SQLFLEET_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    # A newcomer's PATH: no sqlfleet on it until the README puts it there.
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    env["HOME"] = str(clone.parent / "home")
    done = subprocess.run(
        ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=220
    )
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n--- stdout ---\n{done.stdout[-3000:]}"
    assert "Traceback" not in done.stdout + done.stderr

    home = clone / "tour"
    for language, text in blocks(readme):
        if language == "python":
            python = subprocess.run(
                [sys.executable, "-c", text],
                cwd=clone,
                env={**env, "SQLFLEET_HOME": str(home)},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert python.returncode == 0, python.stderr
        elif language == "sql":
            with sqlite3.connect(home / "jobs.db") as db:
                db.execute(text).fetchall()
            db.close()
