"""``uplift run``, driven as a real subprocess: the platform check, /healthz, /metrics, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from storage.models import Base
from storage.urls import sync_url
from tests.harness import ROOT, newest_revision
from tests.harness.cli import cli_env, free_port, uplift_command

TOKEN = "xoxb-test"
SIGNING_SECRET = "secret"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_run_without_a_platform_says_what_to_set(tmp_path: Path, locale: str) -> None:
    database = tmp_path / "uplift.db"

    result = subprocess.run(
        [*uplift_command(), "run"],
        cwd=tmp_path,
        env=cli_env(f"sqlite:///{database}", locale),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    expected = (ROOT / "messages" / locale / "cli" / "no_platform.j2").read_text(encoding="utf-8")
    assert result.stderr.strip() == expected.strip()
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TELEGRAM_BOT_TOKEN"):
        assert name in result.stderr
    assert not database.exists()  # nothing started, nothing created


def test_run_serves_health_and_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "data" / "uplift.db"
    database.parent.mkdir()
    assert not database.exists()
    port = free_port()
    env = cli_env(
        f"sqlite:///{database}",
        "en",
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL="http://127.0.0.1:9/api/",  # nothing listens: never the real Slack
        UPLIFT_HTTP_HOST="127.0.0.1",
        UPLIFT_HTTP_PORT=str(port),
    )
    stdout_path, stderr_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    base = f"http://127.0.0.1:{port}"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*uplift_command(), "run"], cwd=tmp_path, env=env, stdout=stdout, stderr=stderr
        )
    try:
        health: tuple[int, str] | None = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert process.poll() is None, stderr_path.read_text(encoding="utf-8")
            try:
                health = get(f"{base}/healthz")
            except OSError:  # not listening yet
                time.sleep(0.1)
                continue
            if health[0] == 200:
                break
            time.sleep(0.1)
        assert health is not None, "the HTTP server never answered"
        assert health[0] == 200, health
        assert json.loads(health[1]) == {
            "status": "ok",
            "database": "ok",
            "scheduler": "leader",  # on SQLite the one process always leads
            "outbox": {"backlog": 0, "oldest_due_seconds": 0.0},
        }

        status, metrics = get(f"{base}/metrics")
        assert status == 200
        lines = metrics.splitlines()
        assert 'uplift_outbox_messages{status="pending"} 0.0' in lines
        assert "uplift_scheduler_leader 1.0" in lines
        assert any(line.startswith("uplift_queries_total ") for line in lines)

        # the SQLite file did not exist: the process created and upgraded it on start
        engine = create_engine(sync_url(f"sqlite:///{database}"))
        try:
            assert set(inspect(engine).get_table_names()) == {
                *Base.metadata.tables,
                "alembic_version",
            }
            with engine.connect() as connection:
                versions = list(connection.scalars(text("SELECT version_num FROM alembic_version")))
            assert versions == [newest_revision()]
        finally:
            engine.dispose()

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    output = stdout_path.read_text(encoding="utf-8") + stderr_path.read_text(encoding="utf-8")
    assert TOKEN not in output
    assert "Traceback" not in output, output
    assert "Running job" not in output  # no log line per scheduler run (one a second)
