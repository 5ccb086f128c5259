"""Bench 5: a boot storm -- 16 workers warming at once -- with and without start-up jitter.

    python bench/boot_storm.py [--workers 16] [--jitter 0.25] [--rounds 3]

``--workers`` processes are forked (as a pre-fork server does) and all start their warm-up at the same
instant. The table shows the time until every one is ready and the peak number of connection handshakes
the CQL test server was running at once (accepted, not yet through STARTUP: sampled every millisecond from
its public counters), without and with ``WSGI_CASSANDRA_WARM_JITTER``. Needs the embedded test server (it
counts handshakes server-side).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from typing import Any

from _common import KEYSPACE, Cassandra, Result, create_schema, emit, median, parse_args


class HandshakeMeter:
    """Samples the test server's public counters from a thread: connections accepted but not yet through
    STARTUP (nor refused at protocol negotiation) are handshakes in flight; ``peak`` is the most seen."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def in_flight(self) -> int:
        facts = self.stats.snapshot()
        return int(facts.connections_opened - facts.startups - facts.protocol_errors)

    def __enter__(self) -> HandshakeMeter:
        self.peak = 0
        base = self.in_flight()  # connections that never handshake (none when the server is idle)

        def sample() -> None:
            while not self._stop.wait(0.001):
                self.peak = max(self.peak, self.in_flight() - base)

        self._stop.clear()
        self._thread = threading.Thread(target=sample, name="handshake-meter", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def storm(target: Cassandra, workers: int, jitter: float, fast: bool) -> float:
    """Fork ``workers`` children that warm at the same instant; ms until the last is ready."""
    from wsgi_cassandra import CassandraMiddleware

    env = {**target.env, "WSGI_CASSANDRA_WARM_JITTER": str(jitter), "WSGI_CASSANDRA_FAST_CONNECT": str(int(fast))}
    app = CassandraMiddleware(lambda e, s: [], keyspace=KEYSPACE, warmer="lazy", environ=env)
    go_at = time.monotonic() + 0.3
    children = []
    for _ in range(workers):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(read_end)
                time.sleep(max(0.0, go_at - time.monotonic()))
                ready = app.holder.warm(timeout=30)
                os.write(write_end, json.dumps({"ready": ready, "at": time.monotonic()}).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        children.append((pid, read_end))
    ends = []
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as pipe:
            report = json.loads(pipe.read() or b'{"ready": false, "at": 0}')
        os.waitpid(pid, 0)
        if not report["ready"]:
            raise SystemExit("a worker did not get ready within 30 s")
        ends.append(report["at"])
    return (max(ends) - go_at) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--jitter", type=float, default=0.25)
    parser.add_argument("--rounds", type=int, default=3)
    args = parse_args(parser, quick={"workers": 3, "jitter": 0.05, "rounds": 1})
    import cassandra.cluster  # noqa: F401  (loaded before the fork, as in a pre-fork server's workers)

    from wsgi_cassandra.testing import CQLServer

    result = Result(
        f"Boot storm: {args.workers} workers warming at once",
        ["start-up jitter, profile", "all ready ms", "peak concurrent handshakes"],
        chart_unit="ms until all ready",
    )
    with CQLServer() as server:
        target = Cassandra({"CASSANDRA_CONTACT_POINTS": server.host, "CASSANDRA_PORT": str(server.port)}, True)
        create_schema(target)
        for jitter, fast in ((0.0, False), (args.jitter, False), (0.0, True), (args.jitter, True)):
            times, peaks = [], []
            for _ in range(args.rounds):
                server.stats.wait_for("connections_open", 0, timeout=10)
                with HandshakeMeter(server.stats) as meter:
                    times.append(storm(target, args.workers, jitter, fast))
                peaks.append(meter.peak)
            label = ("none" if jitter == 0 else f"0..{jitter * 1000:.0f} ms") + (", fast_connect" if fast else "")
            result.rows.append([label, median(times), max(peaks)])
            result.chart[f"jitter {label}"] = median(times)
    result.notes.append(
        f"median time over {args.rounds} storms, highest peak; each worker opens a control connection and one "
        "pool connection; driver protocol negotiation as default (connections refused at negotiation are not counted)."
    )
    emit(result)


if __name__ == "__main__":
    main()
