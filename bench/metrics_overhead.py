"""Bench: what the opt-in request metrics (``WSGI_CASSANDRA_METRICS_REQUESTS``) add to a prepared read.

    python bench/metrics_overhead.py [--reads 3000] [--rounds 7] [--quick]

In process, interleaved rounds of WSGI calls that each run one declared prepared SELECT: through a
middleware without metrics, one with the metrics path only (the session-level figures, nothing on the
request path), and one with the request timer (a request-init listener and a callback per request,
written to prometheus_client's multiprocess files).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

from _common import KEYSPACE, READ_CQL, Result, cassandra_process, emit, median, parse_args
from request_overhead import per_call_ns

BODY = [b"ok"]


def read_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    environ["cassandra.session"].execute(environ["cassandra.statements"]["get"], (7,)).one()
    start_response("200 OK", [])
    return BODY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parse_args(parser, quick={"reads": 150, "rounds": 3})
    # Before prometheus_client is imported: that is when it picks its multiprocess mode.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="wsgi-cassandra-metrics-")
    from wsgi_cassandra import CassandraMiddleware

    with cassandra_process() as target:
        kwargs: dict[str, Any] = {"keyspace": KEYSPACE, "warmer": "lazy", "statements": {"get": READ_CQL}}
        variants = {
            "no metrics": CassandraMiddleware(read_app, environ=target.env, **kwargs),
            "metrics path": CassandraMiddleware(
                read_app, environ={**target.env, "WSGI_CASSANDRA_METRICS_PATH": "/metrics"}, **kwargs
            ),
            "metrics + request timer": CassandraMiddleware(
                read_app,
                environ={
                    **target.env,
                    "WSGI_CASSANDRA_METRICS_PATH": "/metrics",
                    "WSGI_CASSANDRA_METRICS_REQUESTS": "1",
                },
                **kwargs,
            ),
        }
        try:
            for middleware in variants.values():
                assert middleware.holder.warm(), "no session"
            per_round = max(1, args.reads // args.rounds)
            timings: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.rounds):
                for name, middleware in variants.items():
                    timings[name].append(per_call_ns(middleware, per_round))
        finally:
            for middleware in variants.values():
                middleware.shutdown()
    base = median(timings["no metrics"])
    result = Result(
        "Opt-in request metrics: one prepared read per request (in-process WSGI calls, median ns)",
        ["variant", "ns per request", "added ns", "added share"],
        chart_unit="ns per request",
    )
    for name, values in timings.items():
        ns = median(values)
        result.rows.append([name, ns, ns - base, f"{(ns - base) / base:.2%}"])
    result.chart = {name: median(values) for name, values in timings.items()}
    result.notes.append(
        f"{args.rounds} interleaved rounds of {per_round:,} reads each against the CQL test server in another "
        "process; the timer is a driver request-init listener plus one callback per request. End-to-end "
        "differences below the reads' own noise are noise."
    )
    emit(result)


if __name__ == "__main__":
    main()
