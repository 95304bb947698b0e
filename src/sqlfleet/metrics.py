"""Prometheus metrics: what this process ran, and what the job database holds.

Two sources feed one registry. The attempts an agent (or `up`) runs are counted as they end:
attempts, retries, target executions ended and attempt durations, by job and step, and the
job-database errors this process met. What the job database holds is read when the metrics
are scraped: executions by job and state, targets in progress and due, agents' heartbeat
ages. `web` and `up` serve them at `/metrics`; `sqlfleet agent --metrics-port P` serves
them on 127.0.0.1:P.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sqlfleet.clock import Clock, utcnow
from sqlfleet.engine.dispatcher import Dispatcher
from sqlfleet.errors import InvalidValue, StoreError
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import AttemptEnded
from sqlfleet.store import JobStore, boundary

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Attempts last from milliseconds (a SELECT) to hours (a migration on a big tenant).
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, float("inf"))


class FleetMetrics:
    """The metrics of one process on one job database."""

    def __init__(self, store: JobStore, *, clock: Clock = utcnow) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("job", "step")
        self.attempts = Counter(
            "sqlfleet_attempts",
            "Attempts that ended in this process, by job, step and state (as recorded)",
            (*labels, "state"),
            registry=self.registry,
        )
        self.retries = Counter(
            "sqlfleet_retries",
            "Attempts that ended in a retry (WaitingForRetry), by job and step",
            labels,
            registry=self.registry,
        )
        self.targets_ended = Counter(
            "sqlfleet_target_executions_ended",
            "Target executions that reached a terminal state in this process",
            (*labels, "state"),
            registry=self.registry,
        )
        self.durations = Histogram(
            "sqlfleet_attempt_duration_seconds",
            "How long attempts took, by job and step",
            labels,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "sqlfleet_targets_in_flight",
            "Target executions this process holds now: running, or claimed and about to run",
            registry=self.registry,
        )
        self.notifications = Counter(
            "sqlfleet_notifications",
            "Webhook notifications this process finished sending, by outcome (delivered, failed)",
            ("outcome",),
            registry=self.registry,
        )
        self.store_errors = Counter(
            "sqlfleet_job_database_errors",
            "Job database errors this process met, by kind",
            ("kind",),
            registry=self.registry,
        )
        self.registry.register(_JobDatabaseCollector(store, clock))
        self._unlisten = boundary.listen(self.job_database_error)

    def observe_attempt(self, ended: AttemptEnded) -> None:
        """Count an attempt that ended (a dispatcher observer)."""
        labels = (ended.job_name, ended.step_name)
        # As the job database records it: an attempt that is retried failed.
        state = (
            Lifecycle.FAILED if ended.lifecycle is Lifecycle.WAITING_FOR_RETRY else ended.lifecycle
        )
        self.attempts.labels(*labels, state.value).inc()
        self.durations.labels(*labels).observe(ended.seconds)
        if ended.lifecycle.is_terminal:
            self.targets_ended.labels(*labels, ended.lifecycle.value).inc()
        else:
            self.retries.labels(*labels).inc()

    def observe_notification(self, outcome: str) -> None:
        """Count a notification that was delivered or failed for good (a notifier observer)."""
        self.notifications.labels(outcome).inc()

    def watch(self, dispatcher: Dispatcher) -> None:
        """Count what `dispatcher` (an agent's, or `up`'s) runs and notifies."""
        dispatcher.observers.append(self.observe_attempt)
        if dispatcher.notifier is not None:
            dispatcher.notifier.observers.append(self.observe_notification)
        self.count_in_flight(lambda: dispatcher.running)

    def count_in_flight(self, running: Callable[[], float]) -> None:
        """Report `running()` as the targets in flight, read at each scrape."""
        self.in_flight.set_function(running)

    def job_database_error(self, error: StoreError) -> None:
        """Count a job-database error (a store listener)."""
        self.store_errors.labels(type(error).__name__).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return bytes(generate_latest(self.registry))

    def close(self) -> None:
        """Stop listening to the store."""
        self._unlisten()


def serve(metrics: FleetMetrics, port: int) -> tuple[int, Callable[[], None]]:
    """Serve `metrics` on 127.0.0.1:`port` (0: a free one) in a thread: (port, stop)."""
    try:
        server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    except OSError as exc:
        raise InvalidValue(f"cannot serve metrics on 127.0.0.1:{port}: {exc.strerror}") from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return int(server.server_address[1]), stop


class _JobDatabaseCollector(Collector):
    """Reads the job database at each scrape; a failing job database only leaves these out."""

    def __init__(self, store: JobStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # not known before a scrape: the registry must not call `collect` early

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        try:
            snapshot = self.store.metrics_snapshot(now=now)
        except StoreError:
            return
        executions = GaugeMetricFamily(
            "sqlfleet_job_executions",
            "Job executions stored in the job database, by job and state",
            labels=("job", "state"),
        )
        for (job, state), count in sorted(snapshot.executions.items()):
            executions.add_metric((job, state), count)
        yield executions
        yield GaugeMetricFamily(
            "sqlfleet_targets_in_progress",
            "Target executions InProgress, in every execution",
            value=snapshot.targets_in_progress,
        )
        yield GaugeMetricFamily(
            "sqlfleet_targets_due",
            "Target executions waiting for an agent and due now",
            value=snapshot.targets_due,
        )
        yield GaugeMetricFamily(
            "sqlfleet_targets_waiting",
            "Target executions not started yet or waiting for a retry",
            value=snapshot.targets_waiting,
        )
        ages = GaugeMetricFamily(
            "sqlfleet_agent_heartbeat_age_seconds",
            "Seconds since each registered agent's last heartbeat",
            labels=("agent",),
        )
        for agent, heartbeat in sorted(snapshot.heartbeats.items()):
            ages.add_metric((agent,), max(0.0, (now - heartbeat).total_seconds()))
        yield ages
