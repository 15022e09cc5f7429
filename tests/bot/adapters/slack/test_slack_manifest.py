"""The Slack app manifest follows from the features' declarations, never from hand edits."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.adapters.slack.manifest import slack_manifest
from bot.cli import main
from handlers import build_router
from handlers.framework.router import Menu
from messages import Renderer
from tests.harness import ROOT

COMMITTED = ROOT / "slack" / "manifest.yml"


def test_the_committed_manifest_is_the_generated_one() -> None:
    generated = slack_manifest(build_router(), Renderer())
    assert COMMITTED.read_text(encoding="utf-8") == generated, (
        "slack/manifest.yml is out of date: run `uplift slack manifest > slack/manifest.yml`"
    )


def test_uplift_slack_manifest_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slack", "manifest"]) == 0
    assert capsys.readouterr().out == COMMITTED.read_text(encoding="utf-8")


def test_every_slash_command_is_a_declared_command_and_vice_versa() -> None:
    manifest = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    slashes = [c["command"].lstrip("/") for c in manifest["features"]["slash_commands"]]
    router = build_router()
    assert slashes[0] == "uplift"
    assert slashes[1:] == [route.name for route in router.in_menu(Menu.SLASH)]
    assert all(router.command_route(name) is not None for name in slashes[1:])
    assert {"score", "drill", "check", "report", "help"} <= set(slashes)
    assert "remind" not in slashes  # Slack's own /remind wins: ours is /uplift remind


def test_a_command_declared_for_slack_appears_with_its_description(tmp_path: Path) -> None:
    """Declaring a command is all it takes: the manifest grows by one line."""
    router = build_router()

    async def nothing(_ctx: object) -> None:
        return None

    router.feature("points").command("streak", nothing, roles=(), menus={Menu.SLASH})
    generated = slack_manifest(router, Renderer(root=_with_menu(tmp_path, "points", "streak")))
    commands = yaml.safe_load(generated)["features"]["slash_commands"]
    assert commands[-1]["command"] == "/streak"
    assert commands[-1]["description"] == "My streak of answered drills"


def _with_menu(tmp_path: Path, feature: str, name: str) -> Path:
    """A copy of the shipped templates plus one menu text."""
    import shutil

    from messages.render import TEMPLATE_ROOT

    root = tmp_path / "messages"
    shutil.copytree(TEMPLATE_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for locale in ("en", "zh"):
        (root / locale / feature / f"menu_{name}.j2").write_text("my streak of answered drills\n")
    return root
