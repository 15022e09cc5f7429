"""Language: /lang, the language Uplift speaks to a person."""

from handlers.language.language import register

__all__ = ["register"]
