"""The suite's one harness lives in ``tests/harness/``: databases, plans, the clock, the demo
session and the people in it."""

import compileall
import os
import sys
from pathlib import Path

# Machines that set PYTHONDONTWRITEBYTECODE make every xdist worker re-rewrite every test module
# and every ``uplift`` subprocess recompile the project: about half of collection and a third of
# a subprocess's start. The caches go to the ignored ``__pycache__`` folders.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

pytest_plugins = ("tests.harness", "tests.harness.cli")

ROOT = Path(__file__).resolve().parents[1]
COMPILED = ("bot", "campaigns", "handlers", "kernel", "messages", "storage", "tests/fakes")


def pytest_configure(config: object) -> None:
    """Before the workers start (in the controller, or the only process): compile the project
    once, on every core, instead of in each worker and in each ``uplift`` subprocess of a
    fresh clone."""
    if hasattr(config, "workerinput"):
        return
    for folder in COMPILED:
        compileall.compile_dir(ROOT / folder, quiet=1, workers=0)


def pytest_xdist_auto_num_workers(config: object) -> int:
    """``-n auto``: one worker more than there are cores. Tests wait on PostgreSQL, on
    ``uplift`` subprocesses and on fake servers; a third worker on two cores keeps them busy
    (4m49 against 5m35 for the suite here)."""
    return (os.cpu_count() or 1) + 1
