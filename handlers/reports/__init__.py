"""Reports (报告): /report, the weekly summary to unit chats and the monthly report to
supervisors."""

from handlers.reports.reports import register, report_replies, unit_report
from handlers.reports.summaries import monthly_reports, weekly_summaries

__all__ = ["monthly_reports", "register", "report_replies", "unit_report", "weekly_summaries"]
