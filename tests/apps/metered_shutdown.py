"""Run as a script by tests/test_metrics.py: a middleware with metrics on, shut down while its first connect
attempt waits on a black-holed node; prints, as JSON, what shutdown() returned and whether the connect thread
outlived it. A process of its own: prometheus_client must be imported after ``PROMETHEUS_MULTIPROC_DIR``."""

from __future__ import annotations

import json
import threading
import time

from wsgi_cassandra import CassandraMiddleware


def app(environ: object, start_response: object) -> list[bytes]:  # pragma: no cover - never called
    return []


def main() -> None:
    middleware = CassandraMiddleware(app, warmer="lazy", connect_timeout=60, shutdown_timeout=3)
    holder = middleware.holder
    holder.start()
    deadline = time.monotonic() + 20
    while holder.state.attempts < 1 and time.monotonic() < deadline:  # the attempt is in flight
        holder.state.stop.wait(0.02)
    thread = holder.state.thread
    assert thread is not None
    started = time.monotonic()
    stopped = middleware.shutdown()
    report = {
        "attempts": holder.state.attempts,
        "stopped": stopped,
        "shutdown_s": round(time.monotonic() - started, 2),
        "thread_alive": thread.is_alive(),
        "connect_threads": [t.name for t in threading.enumerate() if t.name.startswith("wsgi-cassandra-connect")],
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
