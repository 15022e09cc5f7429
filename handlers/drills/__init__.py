"""Morning drills (晨会演练): one question a working day per unit, pushed to its chat and graded."""

from handlers.drills.drills import drill_reply, push_morning_drills, register

__all__ = ["drill_reply", "push_morning_drills", "register"]
