"""``uplift demo``: the whole bot in the terminal on a movable clock, with simulated colleagues."""

from bot.demo.session import (
    DEMO_STEP,
    YOU,
    DemoOptions,
    DemoPeople,
    DemoSession,
    demo_session,
    group_chat_id,
    run_demo,
)

__all__ = [
    "DEMO_STEP",
    "YOU",
    "DemoOptions",
    "DemoPeople",
    "DemoSession",
    "demo_session",
    "group_chat_id",
    "run_demo",
]
