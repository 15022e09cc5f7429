"""Platform-neutral features, one package each, and the lists the composition root includes.

``framework/`` holds the router, the context and forms; ``shared/`` the helpers every feature may
use (calendar and local time, date phrases, plan access, units, the outbox, the ledger). A feature
package never imports another feature package. Adding a feature: see the README's "For
contributors".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import (
    awards,
    deeds,
    drills,
    guide,
    housekeeping,
    inspections,
    language,
    members,
    observations,
    points,
    rectifications,
    reminders,
    reports,
    selfchecks,
    stages,
)
from handlers.framework import forms
from handlers.framework.router import Router
from kernel import Window
from storage.store import Store

Job = Callable[[Store, Window], Awaitable[None]]

# In this order: /help lists the commands as they are declared here.
FEATURES: tuple[Callable[[Router], None], ...] = (
    guide.register,
    members.register,
    language.register,
    drills.register,
    points.register,
    selfchecks.register,
    rectifications.register,
    deeds.register,
    observations.register,
    inspections.register,
    stages.register,
    awards.register,
    reminders.register,
    reports.register,
)

# What the scheduler asks, every tick, for pushes that fell due (drills, reminders, notices), in
# this order: the results of a stage that ended, then the next stage's announcement, then that
# morning's drill.
JOBS: tuple[Job, ...] = (
    reports.stage_results,
    reports.campaign_results,
    stages.announce_stages,
    drills.push_morning_drills,
    rectifications.remind_rectification_owners,
    observations.escalate_overdue,
    stages.remind_stage_end,
    awards.suggest_summary_awards,
    reminders.deliver_reminders,
    reports.weekly_summaries,
    reports.monthly_reports,
    housekeeping.forget_old_event_ids,
)

# The jobs whose pushes follow from the plan alone (campaigns, stages, units, their calendars
# and chats), never from what people did: the scheduler asks each when its next push is due
# and skips it until then, unless the plan changed. The others read data people change at
# any time (reminders, deadlines) and are asked every tick, each on a cheap query.
PLANNED_JOBS: frozenset[Job] = frozenset(
    (
        reports.stage_results,
        reports.campaign_results,
        stages.announce_stages,
        drills.push_morning_drills,
        stages.remind_stage_end,
        awards.suggest_summary_awards,
        reports.weekly_summaries,
        reports.monthly_reports,
    )
)


def build_router(*extra: Callable[[Router], None]) -> Router:
    """The router with every feature, plus ``extra`` ones (the demo's /clock)."""
    router = Router()
    for register in (*FEATURES, *extra):
        register(router)
    forms.register(router)
    return router
