"""Running ``uplift`` as a subprocess, the way a person does, with a clean environment."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``uplift`` in this process (``bot.cli.main``), as a person runs it in ``tmp_path`` with
    only DATABASE_URL and UPLIFT_LOCALE set: its exit status, stdout and stderr."""

    def run(*args: str | Path, database_url: str, locale: str = "en") -> tuple[int, str, str]:
        for name in list(os.environ):
            if name.startswith(("SLACK_", "TELEGRAM_", "UPLIFT_")) or name == "DATABASE_URL":
                monkeypatch.delenv(name)
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("UPLIFT_LOCALE", locale)
        monkeypatch.chdir(tmp_path)  # no .env of the developer's
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        printed = capsys.readouterr()
        return code, printed.out, printed.err

    return run


def uplift_command() -> list[str]:
    """The installed ``uplift`` script beside this Python, else ``python -m bot.cli``."""
    script = Path(sys.executable).parent / "uplift"
    if script.exists():
        return [str(script)]
    found = shutil.which("uplift")
    return [found] if found else [sys.executable, "-m", "bot.cli"]


def cli_env(database_url: str, locale: str, **extra: str) -> dict[str, str]:
    """This process's environment without any platform or Uplift setting, plus the given ones."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLACK_", "TELEGRAM_", "UPLIFT_")) and name != "DATABASE_URL"
    }
    env.update(DATABASE_URL=database_url, UPLIFT_LOCALE=locale, **extra)
    return env


def uplift(
    cwd: Path, *args: str | Path, locale: str = "en", database_url: str | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run ``uplift args`` in ``cwd`` and wait for it (two minutes at most)."""
    url = database_url or f"sqlite:///{cwd / 'unused.db'}"
    return subprocess.run(
        [*uplift_command(), *map(str, args)],
        cwd=cwd,
        env=cli_env(url, locale, **extra),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_until_it_stops(cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """``uplift run`` that should stop by itself (a refused token, say): its exit status and what
    it printed, stdout and stderr together. Still running after ``timeout`` fails the test. Async,
    so fake servers on the caller's event loop keep answering meanwhile."""
    output = cwd / "output.txt"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*uplift_command(), "run"], cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            assert time.monotonic() < deadline, f"uplift run still running after {timeout}s"
            await asyncio.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return process.returncode, output.read_text("utf-8")
