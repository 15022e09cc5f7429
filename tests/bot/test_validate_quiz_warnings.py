"""`uplift campaign validate` warns, with the line, about every drill Telegram cannot send as a
quiz poll; the plan stays valid (exit 0) and the drill goes out with lettered buttons instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import PLANS
from tests.harness.cli import uplift

POSTAL_BANK = PLANS / "postal-bank.yaml"
TELEGRAM = {"TELEGRAM_BOT_TOKEN": "123456:telegram-token-for-the-warning-test"}
SLACK = {"SLACK_BOT_TOKEN": "xoxb-warning-test", "SLACK_SIGNING_SECRET": "warning-secret"}


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_drills_that_cannot_be_quiz_polls_are_named_with_their_lines(
    tmp_path: Path, locale: str
) -> None:
    result = uplift(tmp_path, "campaign", "validate", POSTAL_BANK, locale=locale, **TELEGRAM)
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.strip().splitlines()
    lines = POSTAL_BANK.read_text(encoding="utf-8").splitlines()
    assert len(warnings) == 3
    for warning in warnings:
        path, line, where, *_ = warning.split(":")
        assert path == str(POSTAL_BANK)
        assert where.strip().startswith("drills[")
        # The line named is the line of the text that does not fit.
        field = where.strip().split(".")[-1]
        assert lines[int(line) - 1].strip().startswith(f"{field}:")
    assert "drills[3].options[2].en" in warnings[0] and "104" in warnings[0]
    assert "drills[13].explanation.en" in warnings[2] and "209" in warnings[2]


def test_no_warning_when_only_slack_is_configured(tmp_path: Path) -> None:
    result = uplift(tmp_path, "campaign", "validate", POSTAL_BANK, **SLACK)
    assert result.returncode == 0
    assert result.stderr == ""
