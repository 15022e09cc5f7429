"""What ``/metrics`` tells Prometheus: events, handler latency, queries, sends, 429s, failures.

One ``Metrics`` per process, made by the composition root and handed to the dispatcher, the
sender and the HTTP app (no module-level registry: two processes in one test, or two tests in
one process, each count their own). Gauges that describe the database (the outbox backlog and
its oldest age) are set when ``/metrics`` is read, not kept up to date on every write.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Chat handlers answer in milliseconds; a report takes seconds: buckets cover both.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "uplift_events",
            "Events handled, by platform and kind.",
            ["platform", "kind"],
            registry=r,
        )
        self.handler_seconds = Histogram(
            "uplift_handler_seconds",
            "Time to handle one event, database included.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queries = Counter("uplift_queries", "SQL statements executed.", registry=r)
        self.sends = Counter(
            "uplift_sends",
            "Messages pushed to a platform, by outcome.",
            ["platform", "outcome"],
            registry=r,
        )
        self.rate_limited = Counter(
            "uplift_rate_limited",
            "Refusals with HTTP 429 (or the platform's 'too many').",
            ["platform"],
            registry=r,
        )
        self.failures = Counter(
            "uplift_failures",
            "Failed sends and failed events, by reason.",
            ["where", "reason"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "uplift_outbox_backlog", "Outbox messages waiting to be sent.", registry=r
        )
        self.outbox_oldest_seconds = Gauge(
            "uplift_outbox_oldest_seconds",
            "Age of the oldest message due and not yet sent.",
            registry=r,
        )
        self.outbox_messages = Gauge(
            "uplift_outbox_messages", "Outbox messages by status.", ["status"], registry=r
        )
        self.scheduler_leader = Gauge(
            "uplift_scheduler_leader", "1 when this process runs the scheduler.", registry=r
        )
        self.uptime_seconds = Gauge(
            "uplift_uptime_seconds", "Seconds since the process started.", registry=r
        )

    def exposition(self) -> bytes:
        """The text Prometheus scrapes."""
        return generate_latest(self.registry)
