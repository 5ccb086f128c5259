"""Run as a script by tests/test_metrics.py: a middleware with metrics on, shut down while its first connect
attempt waits on a black-holed node (a line on stdin says when); prints, as JSON, what shutdown() returned,
whether the connect thread outlived it, and the state gauge before and after. A process of its own:
prometheus_client must be imported after ``PROMETHEUS_MULTIPROC_DIR`` is set."""

from __future__ import annotations

import json
import sys
import threading
import time

from wsgi_cassandra import CassandraMiddleware


def app(environ: object, start_response: object) -> list[bytes]:  # pragma: no cover - never called
    return []


def state_gauge() -> list[str]:
    """The states this worker's ``wsgi_cassandra_session_state`` gauge holds at 1."""
    from wsgi_cassandra.metrics import _families

    return [
        sample.labels["state"]
        for family in _families().state.collect()
        for sample in family.samples
        if sample.value == 1
    ]


def main() -> None:
    middleware = CassandraMiddleware(app, warmer="lazy", connect_timeout=60, shutdown_timeout=3)
    holder = middleware.holder
    holder.start()
    sys.stdin.readline()  # the test saw this attempt's connection reach the black-holed node
    thread = holder.state.thread
    assert thread is not None
    before = state_gauge()
    started = time.monotonic()
    stopped = middleware.shutdown()
    report = {
        "attempts": holder.state.attempts,
        "state_gauge_before": before,
        "stopped": stopped,
        "shutdown_s": round(time.monotonic() - started, 2),
        "thread_alive": thread.is_alive(),
        "connect_threads": [t.name for t in threading.enumerate() if t.name.startswith("wsgi-cassandra-connect")],
        "state_gauge": state_gauge(),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
