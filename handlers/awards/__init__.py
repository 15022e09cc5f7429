"""Awards (评选表彰): suggestions at the summary stage, confirmed by a supervisor and announced."""

from handlers.awards.awards import register, suggest_awards, suggest_summary_awards

__all__ = ["register", "suggest_awards", "suggest_summary_awards"]
