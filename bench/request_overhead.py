"""Bench 1: what the middleware adds to a request once the session is ready, in nanoseconds.

    python bench/request_overhead.py [--calls 200000] [--reads 2000]

An in-process loop of WSGI calls: the app wrapped by ``CassandraMiddleware`` vs the same app reading a
module-level session, both returning a constant body (so only the request path differs), interleaved over
several rounds; then the overhead as a share of a request that does one prepared read.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import KEYSPACE, READ_CQL, Result, cassandra_process, emit, median, parse_args

BODY = [b"ok"]
_module: dict[str, Any] = {}


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def bare_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    environ["session"] = _module["session"]
    start_response("200 OK", [])
    return BODY


def wrapped_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    environ["session"] = environ["cassandra.session"]
    start_response("200 OK", [])
    return BODY


def read_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    environ["cassandra.session"].execute(environ["cassandra.statements"]["get"], (7,)).one()
    start_response("200 OK", [])
    return BODY


# What a real server hands the app (Gunicorn's keys for a plain GET): the middleware's three keys then land in
# a dict that has room for them, as in production. A 3-key toy environ would make every call pay a resize.
SERVER_ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/item",
    "QUERY_STRING": "",
    "RAW_URI": "/item",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "bench",
    "HTTP_ACCEPT": "*/*",
    "HTTP_ACCEPT_ENCODING": "gzip",
    "HTTP_CONNECTION": "keep-alive",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.input": None,
    "wsgi.errors": None,
    "wsgi.multithread": False,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
    "wsgi.file_wrapper": None,
    "gunicorn.socket": None,
}


def per_call_ns(app: Any, calls: int) -> float:
    environ_template = dict(SERVER_ENVIRON)
    started = time.perf_counter_ns()
    for _ in range(calls):
        app(dict(environ_template), start_response)
    return (time.perf_counter_ns() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parse_args(parser, quick={"calls": 2000, "reads": 20, "rounds": 1})
    from wsgi_cassandra import CassandraMiddleware

    with cassandra_process() as target:
        kwargs = {"keyspace": KEYSPACE, "warmer": "lazy", "environ": target.env, "statements": {"get": READ_CQL}}
        wrapped = CassandraMiddleware(wrapped_app, **kwargs)
        reader = CassandraMiddleware(read_app, **kwargs)
        try:
            connected = wrapped.holder.get()
            assert connected is not None
            assert reader.holder.warm()
            _module["session"] = connected.session
            bare, middleware = [], []
            for _ in range(args.rounds):
                bare.append(per_call_ns(bare_app, args.calls))
                middleware.append(per_call_ns(wrapped, args.calls))
            reads = [per_call_ns(reader, args.reads // args.rounds) for _ in range(args.rounds)]
        finally:
            wrapped.shutdown()
            reader.shutdown()
    overhead = median(middleware) - median(bare)
    read = median(reads)
    result = Result(
        "Request-path overhead (in-process WSGI calls, median ns per request)",
        [
            "bare app + module session",
            "wrapped by CassandraMiddleware",
            "overhead ns",
            "prepared-read request ns",
            "overhead share",
        ],
        chart_unit="ns per request",
    )
    result.rows.append([median(bare), median(middleware), overhead, read, f"{overhead / read:.3%}"])
    result.chart = {"bare app": median(bare), "wrapped": median(middleware)}
    result.notes.append(
        f"{args.rounds} interleaved rounds of {args.calls:,} calls each (environ copied per call in both); "
        f"the read is one prepared SELECT through the middleware; targets: < 1000 ns and < 1%."
    )
    emit(result)


if __name__ == "__main__":
    main()
