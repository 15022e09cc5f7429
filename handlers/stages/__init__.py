"""Stages (阶段): /stage, stage announcements and end-of-stage reminders."""

from handlers.stages.stages import announce_stages, register, remind_stage_end

__all__ = ["announce_stages", "register", "remind_stage_end"]
