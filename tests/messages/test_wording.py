"""Words people read: an English count agrees with its noun ("1 run", "2 runs", never
"run(s)"), Chinese text quotes with Chinese quotation marks, and each role has one word per
language, which is also what is read back wherever a role is typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel import Role, Text
from messages import LOCALES, Renderer
from messages.vocabulary import shipped_vocabulary

MESSAGES = Path(__file__).resolve().parents[2] / "messages"
RENDER = Renderer()
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
# A value printed bare before a plural noun says "1 points" when it is 1.
_BARE_COUNT = re.compile(r"\{\{((?:(?!\}\}).)*)\}\}[ ]+([a-z]+s)\b")
NOT_NOUNS = frozenset({"as", "asks", "has", "is", "refers", "this", "was"})
NOT_COUNTS = frozenset({"campaign", "name", "unit"})  # "{{ campaign }} runs" is a verb
# Where straight quotes are part of what a person types in a shell.
SHELL_QUOTES = frozenset(
    {"cli/webhook_needs_secret", "cli/help_report_period", "cli/report_bad_period"}
)


def sources(locale: str) -> dict[str, str]:
    folder = MESSAGES / locale
    return {
        path.relative_to(folder).with_suffix("").as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*.j2"))
    }


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ('n | plural("run")', 1, "1 run"),
        ('n | plural("run")', 2, "2 runs"),
        ('n | plural("run")', 0, "0 runs"),
        ('n | plural("point")', 1.0, "1.0 point"),
        ('n | plural("point")', 2.5, "2.5 points"),
        ('n | number | plural("point")', 1200, "1,200 points"),
        ('n | plural("entry")', 2, "2 entries"),
        ('n | plural("day")', 7, "7 days"),
        ('n | plural("match")', 3, "3 matches"),
        ('n | plural("good deed")', 2, "2 good deeds"),
        ('n | plural("person", "people")', 1, "1 person"),
        ('n | plural("person", "people")', 2, "2 people"),
    ],
)
def test_the_plural_filter(tmp_path: Path, expression: str, value: float, expected: str) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "t.j2").write_text("{{ " + expression + " }}", encoding="utf-8")
    assert Renderer(tmp_path).render(Text("t", {"n": value}), "en") == expected


def test_real_sentences_count_in_english() -> None:
    def en(template: str, **data: object) -> str:
        return RENDER.render(Text(template, data), "en")

    assert en("stages/due_fixes", count=1, overdue=0).startswith("1 open rectification of mine:")
    assert en("stages/due_fixes", count=2, overdue=0).startswith("2 open rectifications of mine:")
    assert en("reports/item_line", text="Walls", failures=1) == "Walls (failed once)"
    assert en("reports/item_line", text="Walls", failures=3) == "Walls (failed 3 times)"
    assert en("deeds/approved", number=4, people=1, points=1) == (
        "Approved #4: 1 person gets 1 point."
    )
    assert en("deeds/approved", number=4, people=2, points=10) == (
        "Approved #4: 2 people get 10 points each."
    )
    assert en("console/form_pick", count=1) == "There is only one choice: type 1 to take it."
    assert "1 到 1" not in RENDER.render(Text("console/form_pick", {"count": 1}), "zh")


def test_no_english_template_hedges_a_plural_or_prints_a_bare_count() -> None:
    hedged = [name for name, text in sources("en").items() if re.search(r"\w\((s|es)\)", text)]
    assert hedged == []
    bare = [
        (name, match[0])
        for name, text in sources("en").items()
        for match in _BARE_COUNT.finditer(text)
        if match[2] not in NOT_NOUNS and match[1].strip() not in NOT_COUNTS
    ]
    assert bare == [], "count with | plural(...)"


def test_chinese_text_quotes_with_chinese_quotation_marks() -> None:
    straight = [
        name
        for name, text in sources("zh").items()
        if name not in SHELL_QUOTES and '"' in _TAG.sub("", text)
    ]
    assert straight == [], "“…” in Chinese text"


def test_each_role_has_one_word_per_language_read_back_in_every_language() -> None:
    vocabulary = shipped_vocabulary()
    for locale in LOCALES:
        words = {role: RENDER.render(Text(f"roles/{role}"), locale) for role in Role}
        assert len(set(words.values())) == len(Role), words
        for role, word in words.items():
            assert vocabulary.role(word) == role, (locale, word)
            assert vocabulary.role(f" {word.upper()} ") == role
            for shown in LOCALES:  # the usage names every word of every language
                assert word in RENDER.render(Text("members/role_usage"), shown)
    assert RENDER.render(Text("roles/supervisor"), "zh") == "主管"
    assert vocabulary.role("boss") is None and vocabulary.role("") is None
