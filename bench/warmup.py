"""Bench 4: warm-up time per worker: bare ``Cluster().connect()`` vs this library, default and fast-connect.

    python bench/warmup.py [--rounds 7] [--tables 50] [--delay 0.4]

A worker's warm-up is one connect attempt (what the holder runs after the fork: ``CassandraMiddleware``,
then ``holder.get()`` until the session is ready), measured in this process
against the CQL test server with a ``--tables``-table schema, then again with the server answering every
``system_schema`` query ``--delay`` seconds late (a big or busy cluster). Each part of the fast-connect
profile is also measured alone. Against a real cluster (``CASSANDRA_CONTACT_POINTS``) the delay is not
injected and that column is left out.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import TYPE_CHECKING, Any

from _common import KEYSPACE, Cassandra, Result, create_schema, emit, median, parse_args, real_cluster_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CONFIGS: list[tuple[str, dict[str, Any] | None]] = [
    ("bare Cluster().connect()", None),
    ("library, default", {}),
    ("library, fast_connect=True", {"fast_connect": True}),
    ("part: protocol pinned (CASSANDRA_PROTOCOL_VERSION=5)", {"protocol_version": 5}),
    ("part: local_dc set", {"local_dc": "datacenter1"}),
    ("part: schema_metadata=keyspaces", {"schema_metadata": "keyspaces"}),
    ("part: schema_metadata=background", {"schema_metadata": "background"}),
]


@contextlib.contextmanager
def embedded_server() -> Iterator[tuple[Cassandra, Any]]:
    real = real_cluster_env()
    if real is not None:
        yield Cassandra(real, embedded=False), None
        return
    from wsgi_cassandra.testing import CQLServer

    with CQLServer() as server:
        yield Cassandra({"CASSANDRA_CONTACT_POINTS": server.host, "CASSANDRA_PORT": str(server.port)}, True), server


def noop(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("204 No Content", [])
    return []


def attempt(target: Cassandra, config: dict[str, Any] | None) -> Callable[[], float]:
    """One warm-up, timed in ms: build, connect, (library) prepare nothing, fetch what the mode says."""
    from cassandra.cluster import Cluster

    if config is None:
        contact = target.env["CASSANDRA_CONTACT_POINTS"].split(",")
        port = int(target.env.get("CASSANDRA_PORT", "9042"))

        def bare() -> float:
            started = time.perf_counter()
            cluster = Cluster(contact, port=port)
            cluster.connect(KEYSPACE)
            elapsed = (time.perf_counter() - started) * 1000
            cluster.shutdown()
            return elapsed

        return bare
    from wsgi_cassandra import CassandraMiddleware

    def library() -> float:
        started = time.perf_counter()
        app = CassandraMiddleware(noop, keyspace=KEYSPACE, warmer="lazy", environ=target.env, **config)
        try:
            if app.holder.get(timeout=60) is None:
                raise SystemExit(f"warm-up failed: {app.holder.status()}")
            return (time.perf_counter() - started) * 1000
        finally:
            app.shutdown()

    return library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.4)
    args = parse_args(parser, quick={"rounds": 1, "tables": 2, "delay": 0.05})
    import logging

    logging.getLogger("cassandra").setLevel(logging.ERROR)  # the downgrade warnings of the bare connect
    with embedded_server() as (target, server):
        create_schema(target, tables=args.tables)
        scenarios = [f"{args.tables} tables"] + ([f"+ {args.delay * 1000:.0f} ms schema delay"] if server else [])
        timings: dict[tuple[str, str], float] = {}
        for scenario in scenarios:
            if server is not None and "delay" in scenario:
                server.faults.delay(args.delay, query=r"system_schema")
            runs = [(label, attempt(target, config)) for label, config in CONFIGS]
            samples: dict[str, list[float]] = {label: [] for label, _ in runs}
            runs[0][1]()  # one untimed warm-up of the driver's code paths
            for _ in range(args.rounds):
                for label, run in runs:  # interleaved
                    samples[label].append(run())
            for label, values in samples.items():
                timings[(label, scenario)] = median(values)
            if server is not None:
                server.faults.clear()
    headers = ["configuration"]
    for scenario in scenarios:
        headers += [f"{scenario}: ms", "vs bare"]
    result = Result("Warm-up time per worker (median ms)", headers, chart_unit="ms")
    for label, _ in CONFIGS:
        row: list[Any] = [label]
        for scenario in scenarios:
            value, bare = timings[(label, scenario)], timings[(CONFIGS[0][0], scenario)]
            row += [value, f"{value / bare:.2f}x"]
            result.chart[f"{label} [{scenario}]"] = value
        result.rows.append(row)
    result.notes.append(
        f"median of {args.rounds} interleaved connects each, in one process; no statements declared (prepares "
        "are measured by the phases); the library times include building the middleware and its Cluster, like the "
        "bare one, and the connect thread's hand-over."
    )
    emit(result)


if __name__ == "__main__":
    main()
