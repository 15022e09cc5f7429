"""Benchmark: ``kill -9`` of one of two ``uplift run`` during a 10,000-message broadcast.

Runs the suite's own two-instance test (``tests/bot/test_instances.py``: two real processes on
one PostgreSQL database, a strict fake Slack answering each post after 20 ms, one message per
channel) with 10,000 messages instead of the 600 CI sends (CI stays within its five minutes),
and prints what that test counted: every message delivered (lost 0), and the messages posted
twice, which must all be among those in flight at the kill (posted, not yet recorded as sent).
The test's own assertions hold at this size too: the bench fails if they do not.

    .venv/bin/python bench/crash.py              # 10,000 messages (about 30 s)
    .venv/bin/python bench/crash.py --small      # 600, as CI

PostgreSQL at BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test): the test
makes and drops its own database there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/bot/test_instances.py::test_two_instances_one_leader_and_a_kill_during_a_broadcast"
ADMIN_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="600 messages, as CI sends")
    messages = 600 if parser.parse_args().small else 10_000
    with tempfile.TemporaryDirectory(prefix="uplift-bench-crash-") as folder:
        figures_file = Path(folder) / "figures.json"
        env = {
            **os.environ,
            "TEST_DATABASE_URL": ADMIN_DSN,
            "UPLIFT_TEST_BROADCAST": str(messages),
            "UPLIFT_TEST_FIGURES": str(figures_file),
        }
        started = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", TEST],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - started
        if not figures_file.exists():
            print(finished.stdout[-3000:], finished.stderr[-3000:], file=sys.stderr)
            raise SystemExit("the test counted nothing (did it skip? PostgreSQL must answer)")
        figures = json.loads(figures_file.read_text())
    figures.update(
        bench="crash",
        seconds=round(took, 1),
        test_passed=finished.returncode == 0,
        goal_met=finished.returncode == 0
        and figures["lost"] == 0
        and figures["repeated_not_in_flight"] == 0,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
