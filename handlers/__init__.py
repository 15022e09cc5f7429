"""Platform-neutral features, one module each, and the router that lists them.

Adding a feature: write ``handlers/<feature>.py`` with ``register(router)``, its templates under
``messages/<locale>/<feature>/``, its queries under ``storage/``, and add it to FEATURES below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import (
    deed,
    drill,
    fix,
    form_flow,
    help,
    home,
    housekeeping,
    inspect,
    join,
    language,
    observe,
    remind,
    report,
    score,
    selfcheck,
    stage,
    summaries,
)
from handlers.router import Router
from kernel import Window
from storage.store import Store

Job = Callable[[Store, Window], Awaitable[None]]

FEATURES: tuple[Callable[[Router], None], ...] = (
    help.register,
    join.register,
    language.register,
    drill.register,
    score.register,
    selfcheck.register,
    fix.register,
    deed.register,
    observe.register,
    inspect.register,
    stage.register,
    remind.register,
    report.register,
    home.register,
    form_flow.register,
)

# What the scheduler asks, every tick, for pushes that fell due (drills, reminders, notices).
JOBS: tuple[Job, ...] = (
    stage.announce_stages,
    drill.push_morning_drills,
    fix.remind_rectification_owners,
    observe.escalate_overdue,
    stage.remind_stage_end,
    stage.suggest_summary_awards,
    remind.deliver_reminders,
    summaries.weekly_summaries,
    summaries.monthly_reports,
    housekeeping.forget_old_event_ids,
)


def build_router(*extra: Callable[[Router], None]) -> Router:
    """The router with every feature, plus ``extra`` ones (the demo's /clock)."""
    router = Router()
    for register in (*FEATURES, *extra):
        register(router)
    return router
