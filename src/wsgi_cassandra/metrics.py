"""Prometheus metrics of every worker, valid under pre-fork servers; off unless a path is configured.

::

    $ export PROMETHEUS_MULTIPROC_DIR=/run/wsgi-metrics     # an empty directory, writable by the workers
    $ WSGI_CASSANDRA_METRICS_PATH=/metrics gunicorn -w 4 app:application
    $ curl localhost:8000/metrics                           # any worker answers, with all workers' figures

Each worker writes its figures to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess
mode, the only way figures survive pre-fork servers) and whichever worker answers the metrics path
aggregates them all. Gauges carry a ``pid`` label (one series per live worker); counters and histograms are
summed over workers. Requires the ``prometheus`` extra (prometheus_client). The metrics (README, "Metrics"):

- ``wsgi_cassandra_session_state{state, pid}``: 1 for the worker's state, the holder's own
  (``SessionHolder.status()``: ``connecting``, ``ready``, ``unavailable``, ``hosts_down``, ``closed``), 0
  for the others;
- ``wsgi_cassandra_warmup_phase_seconds{phase, pid}``: the last warm-up's duration, by phase;
- ``wsgi_cassandra_hosts_up{pid}``: hosts the worker's driver sees up;
- ``wsgi_cassandra_connect_attempts_total`` and ``wsgi_cassandra_connect_failures_total``;
- ``wsgi_cassandra_unavailable_responses_total``: 503s answered for lack of a session;
- opt-in (``WSGI_CASSANDRA_METRICS_REQUESTS``): ``wsgi_cassandra_request_seconds{statement}`` (histogram)
  and ``wsgi_cassandra_request_errors_total{statement, error}``, for the declared statements, timed from
  the driver's request-init listener to the request's callback.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import struct
import time
from typing import TYPE_CHECKING, Any, Callable

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse
    from cassandra.cluster import ResponseFuture

    from .config import Settings
    from .connect import Connected
    from .holder import SessionHolder, Status

__all__ = ["STATES", "MeteredConnector", "Metrics"]

log = logging.getLogger(__name__)

STATES = ("connecting", "ready", "unavailable", "hosts_down", "closed")  # holder.State's values
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The middleware's metrics: a connector wrapper, a 503 counter and the scrape; see the module doc."""

    def __init__(self, settings: Settings) -> None:
        try:
            import prometheus_client  # noqa: F401 - asked for by name: fail at construction
        except ImportError:
            raise ConfigurationError(
                "WSGI_CASSANDRA_METRICS_PATH is set but prometheus_client is not installed: "
                "install the prometheus extra (pip install 'wsgi-cassandra[prometheus]', or prometheus-client)"
            ) from None
        from prometheus_client import values

        directory = os.environ.get(MULTIPROC_DIR)  # prometheus_client reads the process's environment
        if not directory or not os.path.isdir(directory):
            raise ConfigurationError(
                f"WSGI_CASSANDRA_METRICS_PATH is set but {MULTIPROC_DIR} = {directory!r} is not a directory; "
                "accepted: an empty directory writable by every worker, set before the server starts"
            )
        if values.ValueClass is values.MutexValue:
            raise ConfigurationError(
                f"prometheus_client was imported before {MULTIPROC_DIR} was set, so it is not in multiprocess "
                "mode: set the variable in the server's environment, before the app is loaded"
            )
        self.path = settings.metrics_path
        self.time_requests = settings.metrics_requests
        self._exit_hook_pid = 0
        self._holder: SessionHolder | None = None

    def watch(self, holder: SessionHolder) -> None:
        """The holder whose :meth:`~SessionHolder.status` the state and hosts gauges show (built after the
        connector it is given, so told here)."""
        self._holder = holder

    def publish(self) -> None:
        """Write the holder's status to this worker's gauges: what ``shutdown()`` calls once closed."""
        if self._holder is not None:
            _publish(_families(), self._holder.status())

    # --- the connector: attempts, failures, warm-up phases, state, hosts --------------------------------

    def connector(self, connect: Callable[[int], Connected]) -> MeteredConnector:
        """``connect`` with its attempts, failures, phases and resulting state recorded; ``abort`` is
        forwarded, so that ``SessionHolder.shutdown()`` still stops an attempt in flight."""
        return MeteredConnector(connect, self)

    def _attempt_started(self, pid: int) -> _Families:
        families = _families()
        if self._exit_hook_pid != pid:
            self._exit_hook_pid = pid
            atexit.register(_mark_dead, pid)
        self.publish()  # connecting, or unavailable after a failed attempt
        families.attempts.inc()
        return families

    def _connected(self, connected: Connected, families: _Families) -> None:
        for phase, ms in connected.phases.items():
            families.warmup.labels(phase).set(ms / 1000.0)
        if self._holder is not None:
            _follow_holder(connected.cluster, self._holder, families)
        if self.time_requests and connected.statements:
            names = {prepared.query_id: name for name, prepared in connected.statements.items()}
            connected.session.add_request_init_listener(_RequestTimer(names, families))

    # --- the request path: only the not-ready path and the scrape ---------------------------------------

    def count_503(self) -> None:
        """Count one 503 answered for lack of a session (what both middlewares call)."""
        _families().unavailable.inc()

    def counting_503(self, start_response: StartResponse) -> StartResponse:
        """``start_response`` that counts the 503s answered for lack of a session."""

        def counted(status: str, headers: Any, exc_info: Any = None) -> Any:
            if status.startswith("503"):
                self.count_503()
            return start_response(status, headers, exc_info)

        return counted

    def response(self, start_response: StartResponse) -> Iterable[bytes]:
        """The scrape: every worker's figures (and the app's own multiprocess metrics) in one text page; a
        503 with ``Retry-After`` in the rare case the files stay unreadable (see :func:`_scrape`)."""
        from prometheus_client import CONTENT_TYPE_LATEST

        body = _scrape()
        if body is None:
            log.warning(
                "pid %d: the metrics files in %s could not be read %d times in a row; answered 503",
                os.getpid(),
                os.environ.get(MULTIPROC_DIR),
                SCRAPE_TRIES,
            )
            body = b"the workers' metrics files are being written; try again\n"
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("Retry-After", "1")],
            )
            return [body]
        start_response(
            "200 OK",
            [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
        )
        return [body]


SCRAPE_TRIES = 5  # reads of the metrics files before a scrape gives up: 5, 10, 20, 40 ms apart


def _scrape() -> bytes | None:
    """Every process's metrics files as one text page, or ``None`` if they could not be read.

    A worker that is starting creates its file empty and fills it an instant later, and one that exits
    has its gauge files removed: a read at that instant fails (``struct.error`` on the empty file, a
    vanished file). Read again a few times, briefly, rather than answer a 500 to the scraper."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    for attempt in range(SCRAPE_TRIES):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        try:
            return generate_latest(registry)
        except (struct.error, ValueError, OSError):
            if attempt + 1 < SCRAPE_TRIES:
                time.sleep(0.005 * 2**attempt)
    return None


class MeteredConnector:
    """A connector (``connect(pid)``, ``abort(pid)``) whose attempts the metrics record.

    A class, not a ``functools.wraps`` closure: the holder looks ``abort`` up on the connector it was
    given, and a wrapper without it would leave an attempt in flight running after ``shutdown()``.
    """

    __slots__ = ("_connect", "_metrics")

    def __init__(self, connect: Callable[[int], Connected], metrics: Metrics) -> None:
        self._connect = connect
        self._metrics = metrics

    def __call__(self, pid: int) -> Connected:
        families = self._metrics._attempt_started(pid)
        try:
            connected = self._connect(pid)
        except Exception:
            families.failures.inc()
            # What the holder's status says once it has recorded this failure, which it does after we
            # return (a shutdown that stopped the attempt publishes "closed" after the thread has ended).
            _set_state(families, "unavailable")
            raise
        self._metrics._connected(connected, families)
        return connected

    def abort(self, pid: int) -> None:
        """Stop process ``pid``'s attempt in flight (see ``Connector.abort``), when the connector can."""
        abort = getattr(self._connect, "abort", None)
        if callable(abort):
            abort(pid)


class _Families:
    """The metric objects, made once per process; their values live in per-pid files, so forks are safe."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
            return Gauge(name, doc, labels, multiprocess_mode="liveall", registry=None)

        self.state = gauge("wsgi_cassandra_session_state", "1 for the worker's session state", ("state",))
        self.warmup = gauge("wsgi_cassandra_warmup_phase_seconds", "Last warm-up's duration by phase", ("phase",))
        self.hosts_up = gauge("wsgi_cassandra_hosts_up", "Hosts the worker's driver sees up")
        self.attempts = Counter("wsgi_cassandra_connect_attempts", "Connect attempts", registry=None)
        self.failures = Counter("wsgi_cassandra_connect_failures", "Failed connect attempts", registry=None)
        self.unavailable = Counter(
            "wsgi_cassandra_unavailable_responses", "503s answered for lack of a session", registry=None
        )
        self.latency = Histogram(
            "wsgi_cassandra_request_seconds",
            "Driver request latency by declared statement",
            ("statement",),
            registry=None,
        )
        self.errors = Counter(
            "wsgi_cassandra_request_errors",
            "Driver request errors by declared statement",
            ("statement", "error"),
            registry=None,
        )


@functools.cache
def _families() -> _Families:
    return _Families()


def _set_state(families: _Families, state: str) -> None:
    for name in STATES:
        families.state.labels(name).set(1 if name == state else 0)


def _mark_dead(pid: int) -> None:
    """At this worker's exit: its gauges leave the scrape (counters and histograms keep counting it)."""
    if os.getpid() != pid:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _publish(families: _Families, status: Status) -> None:
    """The holder's status, as the state and hosts gauges: the one place that maps one onto the other."""
    _set_state(families, status["state"])
    families.hosts_up.set(status.get("hosts_up", 0))


def _follow_holder(cluster: Any, holder: SessionHolder, families: _Families) -> None:
    """Publish the holder's status whenever the holder's own host listener has taken a host event.

    The holder registers its listener (``HostWatch``) on the Cluster right after it stored the session; the
    driver calls separate listeners in no set order, so a listener of ours could read the status before
    the holder had updated it. Instead, the holder's one registration -- the next call on this Cluster, made
    by the holder's connect thread -- registers both as one listener, the holder's first. (An instance
    attribute, removed at that call, as ``connect._timed_connect`` does.)
    """

    def register_listener(listener: Any) -> None:
        del cluster.register_listener  # the driver's method again
        cluster.register_listener(_AfterHolder(listener, holder, families))
        _publish(families, holder.status())  # ready (or hosts_down): the holder has just stored it

    cluster.register_listener = register_listener


class _AfterHolder:
    """A driver host listener: the holder's, then the gauges from what the holder now says."""

    def __init__(self, first: Any, holder: SessionHolder, families: _Families) -> None:
        self._first, self._holder, self._families = first, holder, families

    def on_up(self, host: Any) -> None:
        self._first.on_up(host)
        _publish(self._families, self._holder.status())

    def on_down(self, host: Any) -> None:
        self._first.on_down(host)
        _publish(self._families, self._holder.status())

    def on_add(self, host: Any) -> None:
        self._first.on_add(host)
        _publish(self._families, self._holder.status())

    def on_remove(self, host: Any) -> None:
        self._first.on_remove(host)
        _publish(self._families, self._holder.status())


class _RequestTimer:
    """A request-init listener: times the declared statements' requests, counts their errors."""

    __slots__ = ("_families", "_names")

    def __init__(self, names: dict[bytes, str], families: _Families) -> None:
        self._names = names
        self._families = families

    def __call__(self, future: ResponseFuture) -> None:
        prepared = getattr(future.query, "prepared_statement", None)
        name = self._names.get(getattr(prepared, "query_id", None))  # type: ignore[arg-type]
        if name is None:
            return
        started = time.perf_counter()
        future.add_callbacks(self._done, self._failed, callback_args=(name, started), errback_args=(name, started))

    def _done(self, _rows: Any, name: str, started: float) -> None:
        self._families.latency.labels(name).observe(time.perf_counter() - started)

    def _failed(self, error: BaseException, name: str, started: float) -> None:
        self._families.latency.labels(name).observe(time.perf_counter() - started)
        self._families.errors.labels(name, type(error).__name__).inc()
