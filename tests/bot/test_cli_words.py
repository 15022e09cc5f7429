"""The ``uplift`` command's own words in Chinese, argparse's included ("usage", "options", "the
following arguments are required"), and roles typed in either language. In-process: ``main``
with the output captured, no subprocess."""

from __future__ import annotations

import argparse
import gettext
from pathlib import Path

import pytest

from bot.cli import _parser, _Printer, main
from kernel import Role, Text
from messages import Renderer

RENDER = Renderer()
ARGPARSE_ENGLISH = (
    "usage:",
    "options",
    "positional arguments",
    "show this help message and exit",
    "error:",
    "the following arguments are required",
)


def words(name: str, locale: str, **data: object) -> str:
    return RENDER.render(Text(name, data), locale)


def uplift(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    locale: str,
    *args: str,
) -> tuple[int, str, str]:
    """``uplift args`` in ``locale``: its exit status, stdout and stderr."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("UPLIFT_LOCALE", locale)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        status = main(list(args))
    except SystemExit as exit:
        status = int(exit.code or 0)
    printed = capsys.readouterr()
    return status, printed.out, printed.err


def test_help_and_errors_in_chinese_have_no_english_words_of_argparse(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = uplift(monkeypatch, capsys, tmp_path, "zh", "--help")
    assert status == 0
    assert out.startswith(words("cli/argparse/usage", "zh") + " uplift")
    assert words("cli/argparse/options", "zh") + ":" in out
    assert words("cli/argparse/help", "zh") in out
    assert words("cli/help_uplift", "zh") in out
    assert not [word for word in ARGPARSE_ENGLISH if word in out], out

    status, out, _ = uplift(monkeypatch, capsys, tmp_path, "zh", "campaign", "validate", "-h")
    assert status == 0 and words("cli/argparse/positional_arguments", "zh") + ":" in out
    assert not [word for word in ARGPARSE_ENGLISH if word in out], out

    status, out, _ = uplift(monkeypatch, capsys, tmp_path, "zh", "member", "add", "--help")
    assert status == 0 and words("cli/help_member_role", "zh")[:12] in out

    status, out, err = uplift(monkeypatch, capsys, tmp_path, "zh", "member", "add")
    assert status == 2 and out == ""
    assert "uplift member add: 错误: 缺少必填的参数: --platform, --user, --name, --unit" in err
    assert not [word for word in ARGPARSE_ENGLISH if word in err], err

    wrong_role = ("member", "add", "--platform", "slack", "--user", "U1", "--name", "Li")
    status, _, err = uplift(
        monkeypatch, capsys, tmp_path, "zh", *wrong_role, "--unit", "u", "--role", "老板"
    )
    assert status == 2 and words("cli/bad_role", "zh", given="老板") in err

    # argparse is itself again afterwards, and English stays argparse's English.
    assert argparse._ is gettext.gettext  # type: ignore[attr-defined]
    status, out, _ = uplift(monkeypatch, capsys, tmp_path, "en", "--help")
    assert status == 0 and out.startswith("usage: uplift")
    assert "show this help message and exit" in out


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_a_role_is_typed_in_either_language(locale: str) -> None:
    parser = _parser(_Printer(locale))
    person = ["member", "add", "--platform", "slack", "--user", "U1", "--name", "Li", "--unit", "u"]
    for typed, role in (
        ("主管", Role.SUPERVISOR),
        ("supervisor", Role.SUPERVISOR),
        ("监督员", Role.VOLUNTEER),
    ):
        assert parser.parse_args([*person, "--role", typed]).role == role
        assert parser.parse_args(["demo", "--as", typed]).role == role
    assert parser.parse_args(person).role == Role.STAFF
