"""Free memory goes back to the OS: a process that freed most of what a thread allocated
shrinks once `release_free_memory` runs (glibc, as on this machine)."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import threading
from sqlfleet.allocator import release_free_memory

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

kept = []
def churn():
    # 80 MB in 4 KB blocks (the C allocator's, not Python's small-object pools), then all
    # freed but every 64th: the survivors keep the arena's top, so free() alone returns
    # nothing.
    blocks = [bytes(4096) for _ in range(20_000)]
    kept.extend(blocks[::64])

thread = threading.Thread(target=churn)
thread.start()
thread.join()
before = rss_mb()
assert release_free_memory()
print(before, rss_mb())
"""


def test_free_pages_of_a_thread_arena_go_back_to_the_os() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=True
    )
    before, after = map(float, done.stdout.split())
    assert before - after > 40, f"RSS {before:.1f} MB before, {after:.1f} MB after"
