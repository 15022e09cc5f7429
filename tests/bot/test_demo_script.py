"""``uplift demo --script`` with a script that is not UTF-8: one clear line naming the file, in
the CLI's language, and exit 1; never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kernel import Text
from messages import Renderer, Target
from tests.harness.cli import cli_env, uplift, uplift_command


def said(locale: str, path: str) -> str:
    return Renderer().render(Text("cli/script_not_utf8", {"path": path}), locale, Target.PLAIN)


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_a_script_that_is_not_utf8_is_named_and_refused(tmp_path: Path, locale: str) -> None:
    script = tmp_path / "steps-gbk.txt"
    script.write_bytes("/help\n/score\n我的积分\n".encode("gbk"))

    result = uplift(
        tmp_path, "demo", "--script", script, "--db", tmp_path / "demo.db", locale=locale
    )

    assert result.returncode == 1
    assert result.stderr.strip() == said(locale, str(script))
    assert "Traceback" not in result.stdout + result.stderr


def test_a_utf8_script_still_runs(tmp_path: Path) -> None:
    script = tmp_path / "steps.txt"
    script.write_text("/help\n", encoding="utf-8")

    result = uplift(tmp_path, "demo", "--script", script, "--db", tmp_path / "demo.db")

    assert result.returncode == 0, result.stderr
    assert "> /help" in result.stdout


def test_standard_input_that_is_not_utf8_is_refused_too(tmp_path: Path) -> None:
    result = subprocess.run(
        [*uplift_command(), "demo", "--script", "-", "--db", str(tmp_path / "demo.db")],
        cwd=tmp_path,
        env=cli_env(f"sqlite:///{tmp_path / 'unused.db'}", "en"),
        input="/help\n我的积分\n".encode("gbk"),
        capture_output=True,
        timeout=120,
    )

    assert result.returncode == 1
    stderr = result.stderr.decode("utf-8")
    assert stderr.strip() == said("en", "-")
    assert b"Traceback" not in result.stdout + result.stderr
