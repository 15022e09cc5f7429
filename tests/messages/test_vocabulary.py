"""Words people type live with each language's messages: complete in every language, read from
data, and what the code asks for exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.reports.periods import NAMED_PERIODS
from messages import LOCALES
from messages.render import TEMPLATE_ROOT
from messages.vocabulary import load_vocabulary, shipped_vocabulary
from tests.messages.test_catalogue import referenced_word_keys


def _meanings(locale: str) -> set[str]:
    """``feature/meaning`` for every word list in ``locale``'s words files."""
    import yaml

    found = set()
    for path in (TEMPLATE_ROOT / locale).glob("*/words.yaml"):
        for meaning in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("words", {}):
            found.add(f"{path.parent.name}/{meaning}")
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_every_meaning_has_words_in_every_language(locale: str) -> None:
    everywhere = set().union(*(_meanings(other) for other in LOCALES))
    assert sorted(everywhere - _meanings(locale)) == []


@pytest.mark.parametrize("key", sorted(referenced_word_keys()))
def test_every_word_key_the_code_asks_for_exists(key: str) -> None:
    assert shipped_vocabulary().words_for(key), f"no words for {key}"


def test_every_report_period_has_words() -> None:
    for period in NAMED_PERIODS:
        assert shipped_vocabulary().words_for(f"reports/{period}")


def test_words_of_every_language_are_understood() -> None:
    words = shipped_vocabulary()
    assert words.means("明细", "points/detail") and words.means(" Details ", "points/detail")
    assert words.command("points", "score").aliases[:2] == ("积分", "分数")
    assert "my score" in words.command("points", "score").keywords


def test_a_third_language_is_data(tmp_path: Path) -> None:
    """A words file in a new folder is all a new language needs for its words."""
    root = tmp_path / "messages"
    for locale in LOCALES:
        (root / locale / "points").mkdir(parents=True)
    (root / "zh" / "points" / "words.yaml").write_text(
        "commands:\n  score:\n    aliases: [积分]\nwords:\n  detail: [明细]\n", encoding="utf-8"
    )
    (root / "en" / "points" / "words.yaml").write_text(
        "words:\n  detail: [detail, Détail]\n", encoding="utf-8"
    )
    words = load_vocabulary(root)
    assert words.means("détail", "points/detail")
    assert words.command("points", "score").aliases == ("积分",)


def test_a_malformed_words_file_names_itself(tmp_path: Path) -> None:
    root = tmp_path / "messages"
    (root / "zh" / "points").mkdir(parents=True)
    (root / "zh" / "points" / "words.yaml").write_text("words:\n  detail: 明细\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"points/words\.yaml"):
        load_vocabulary(root)


def test_every_command_in_a_words_file_is_a_command_of_that_feature() -> None:
    """A misspelt command in a words file would be ignored silently: it is not."""
    from handlers import build_router

    router = build_router()
    for feature, name in shipped_vocabulary().commands:
        route = router.command_route(name)
        assert route is not None and route.feature == feature, (feature, name)
