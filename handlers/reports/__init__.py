"""Reports (报告): /report, the weekly summary to unit chats, the monthly report to supervisors,
and the results told after each stage and after the campaign."""

from handlers.reports.reports import register, report_replies, unit_report
from handlers.reports.results import campaign_results, stage_results
from handlers.reports.summaries import monthly_reports, weekly_summaries

__all__ = [
    "campaign_results",
    "monthly_reports",
    "register",
    "report_replies",
    "stage_results",
    "unit_report",
    "weekly_summaries",
]
