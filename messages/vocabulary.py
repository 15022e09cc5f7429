"""Words people type, per locale: command aliases, keywords and the words a command's arguments
may say (``detail``, ``hide``, a skip or a cancel).

They live beside the templates, in ``messages/<locale>/<feature>/words.yaml``, so a new language is
data, not code. Every locale's words are understood whatever language a person chose: a Chinese
speaker typing ``/score`` and an English one typing ``/积分`` both get their score.

A words file looks like this (every part optional)::

    commands:
      score:
        aliases: [积分, 分数]        # /积分 is /score
        keywords: [我的积分]          # typing 我的积分 alone runs /score
    words:
      detail: [明细, 详情]          # what an argument may say, by meaning
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kernel import Role
from messages.render import LOCALES, TEMPLATE_ROOT

WORDS_FILE = "words.yaml"


@dataclass(frozen=True)
class CommandWords:
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """Every locale's words, by feature (the folder the words file sits in)."""

    commands: Mapping[tuple[str, str], CommandWords] = field(default_factory=dict)
    words: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    def command(self, feature: str, name: str) -> CommandWords:
        return self.commands.get((feature, name), CommandWords())

    def means(self, text: str, key: str) -> bool:
        """Whether ``text`` is one of the words for ``key`` (``"points/detail"``), in any locale."""
        feature, _, meaning = key.partition("/")
        return text.strip().casefold() in self.words.get((feature, meaning), frozenset())

    def words_for(self, key: str) -> frozenset[str]:
        feature, _, meaning = key.partition("/")
        return self.words.get((feature, meaning), frozenset())

    def role(self, text: str) -> Role | None:
        """The role ``text`` names in any locale (``主管``, ``supervisor``), or None: each role
        is shown by one word per language (``roles/<role>``) and read in every language."""
        word = text.strip().casefold()
        for role in Role:
            if word == role.value or self.means(word, f"roles/{role.value}"):
                return role
        return None


def load_vocabulary(root: Path = TEMPLATE_ROOT) -> Vocabulary:
    """Read every ``<locale>/<feature>/words.yaml`` under ``root``, in the order of LOCALES."""
    commands: dict[tuple[str, str], CommandWords] = {}
    words: dict[tuple[str, str], set[str]] = {}
    for locale in LOCALES:
        for path in sorted((root / locale).glob(f"*/{WORDS_FILE}")):
            feature = path.parent.name
            data = _read(path)
            for name, spec in (data.get("commands") or {}).items():
                known = commands.get((feature, name), CommandWords())
                commands[(feature, name)] = CommandWords(
                    (*known.aliases, *_strings(path, spec.get("aliases"))),
                    (*known.keywords, *_strings(path, spec.get("keywords"))),
                )
            for meaning, listed in (data.get("words") or {}).items():
                words.setdefault((feature, meaning), set()).update(
                    word.casefold() for word in _strings(path, listed)
                )
    return Vocabulary(commands, {key: frozenset(found) for key, found in words.items()})


@functools.cache
def shipped_vocabulary() -> Vocabulary:
    """The words shipped under ``messages/``, read once per process."""
    return load_vocabulary()


def _read(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a words file is a mapping with 'commands' and 'words'")
    return data


def _strings(path: Path, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{path}: words are given as a list of non-empty strings")
    return tuple(v.strip() for v in value)
