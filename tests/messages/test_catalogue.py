"""The message catalogue is complete: every sentence exists in both languages, and every template
the code names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers import build_router
from kernel import Role, Text
from messages import LOCALES, Renderer, Target

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "messages"
CODE_DIRS = ("bot", "handlers", "kernel", "messages")


def templates(locale: str) -> set[str]:
    """Template names (``errors/not_allowed``) shipped for ``locale``."""
    folder = MESSAGES / locale
    return {path.relative_to(folder).with_suffix("").as_posix() for path in folder.rglob("*.j2")}


ALL_TEMPLATES = sorted(set().union(*(templates(locale) for locale in LOCALES)))


def test_there_are_templates_in_every_locale() -> None:
    for locale in LOCALES:
        assert {"errors/not_allowed", "guide/help"} <= templates(locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_exists_in_both_languages(locale: str) -> None:
    others = set().union(*(templates(other) for other in LOCALES if other != locale))
    missing = sorted(others - templates(locale))
    assert missing == [], f"missing in messages/{locale}: {missing}"


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_every_template_compiles_with_the_renderers_filters(name: str) -> None:
    """Parsing and compiling also checks every filter a template uses exists."""
    renderer = Renderer()
    for locale in LOCALES:
        for target in Target:
            template = renderer.template(name, locale, target)
            assert template.filename is not None
            assert Path(template.filename).resolve() == (MESSAGES / locale / f"{name}.j2")


# --- templates named in the code --------------------------------------------------------------

_LITERAL = re.compile(r"""(?<![\w.])(f?)(["'])([a-z_]+/[A-Za-z0-9_{}./\[\]]+)\2""")
_NAME = re.compile(r"[a-z_]+(/[A-Za-z0-9_]+)+")
NOT_TEMPLATES = {"application", "audio", "image", "multipart", "text", "video"}  # MIME types
_CLI_SAY = re.compile(r"""\bsay(?:\.out|\.err)?\(\s*["']([a-z_]+)["']""")
_CLI_PRINTER = re.compile(r"""_Printer\([^()]*\)\(\s*["']([a-z_]+)["']""")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# Word keys (``points/detail``) look like template names; they name words, not sentences.
_WORD_KEY = re.compile(r"""(?:means|words_for)\([^()]*?["']([a-z_]+/[a-z_]+)["']""")

# What an f-string's placeholder can be, by the text before it; others are skipped.
EXPANSIONS: dict[str, tuple[str, ...]] = {
    "roles/": tuple(role.value for role in Role),
    "language/name_": LOCALES,
}


def _code_files() -> list[Path]:
    return sorted(path for folder in CODE_DIRS for path in (ROOT / folder).rglob("*.py"))


def referenced_templates() -> dict[str, set[str]]:
    """Template names the code mentions as string literals, with the files mentioning them."""
    found: dict[str, set[str]] = {}

    def note(name: str, path: Path) -> None:
        found.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())

    for path in _code_files():
        source = path.read_text(encoding="utf-8")
        word_keys = set(_WORD_KEY.findall(source))
        for is_f, _quote, literal in _LITERAL.findall(source):
            if literal.split("/", 1)[0] in NOT_TEMPLATES or literal in word_keys:
                continue
            if not is_f or "{" not in literal:
                if _NAME.fullmatch(literal):  # not a file name such as plans/hotel.yaml
                    note(literal, path)
                continue
            holes = _PLACEHOLDER.findall(literal)
            prefix = literal[: literal.index("{")]
            if len(holes) == 1 and prefix in EXPANSIONS:
                suffix = literal[literal.index("}") + 1 :]
                for value in EXPANSIONS[prefix]:
                    note(f"{prefix}{value}{suffix}", path)
        if path.name == "cli.py":
            for name in _CLI_SAY.findall(source) + _CLI_PRINTER.findall(source):
                note(f"cli/{name}", path)
    return found


def test_the_scan_finds_the_templates_we_know_of() -> None:
    """The scan itself works: it sees literals, expanded f-strings and the CLI's printer."""
    found = referenced_templates()
    expected = {
        "errors/not_allowed",  # a returned literal in the dispatcher
        "errors/unknown_command",  # context.private("...")
        "language/choose",  # ctx.reply("...")
        "language/name_en",  # f"language/name_{code}"
        "roles/volunteer",  # f"roles/{role}"
        "clock/bad",  # Refusal("...")
        "console/form_pick",  # Text("...", ...)
        "cli/plan_valid",  # say.out("...")
        "cli/prompt",  # _Printer(locale)("...")
    }
    assert expected <= set(found)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_the_code_names_exists(locale: str) -> None:
    shipped = templates(locale)
    missing = {
        name: sorted(files) for name, files in referenced_templates().items() if name not in shipped
    }
    assert missing == {}, f"named in code but missing in messages/{locale}: {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_declared_command_has_its_help_line_and_menu_text(locale: str) -> None:
    """A feature declares a command once; its help line and menu text are its templates."""
    shipped = templates(locale)
    missing = []
    for route in build_router().commands():
        if route.help_template and route.help_template not in shipped:
            missing.append(route.help_template)
        if route.menus and route.menu_template not in shipped:
            missing.append(route.menu_template)
    assert missing == []


def test_every_role_has_a_name_in_every_language() -> None:
    renderer = Renderer()
    for role in Role:
        names = {locale: renderer.render(Text(f"roles/{role}"), locale) for locale in LOCALES}
        assert all(names.values()), names
        assert names["en"] == role.value


def referenced_word_keys() -> dict[str, set[str]]:
    """Word keys the code asks for (``ctx.means(text, "points/detail")``), with their files."""
    found: dict[str, set[str]] = {}
    for path in _code_files():
        for key in _WORD_KEY.findall(path.read_text(encoding="utf-8")):
            found.setdefault(key, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_the_word_scan_finds_the_words_we_know_of() -> None:
    assert {"points/detail", "form/cancel", "reminders/me", "console/quit"} <= set(
        referenced_word_keys()
    )
