"""Running ``uplift`` as a subprocess, the way a person does, with a clean environment."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path


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
