"""Bench 2: the first request after a worker boots vs that worker's steady state.

    python bench/first_request.py [--rounds 3] [--steady 100]

Each round starts a fresh server with one worker, waits until it listens and then ``--settle`` seconds
(the worker has booted), sends one request (the first) and then ``--steady`` more; the table shows the
medians over the rounds. Variants: this library under Gunicorn and uWSGI with each warmer that applies,
the hand-written recipe (a global session built in uWSGI ``@postfork``) and connecting per request; and
the ASGI middleware under Gunicorn's Uvicorn worker, with its own HTTP floor.
"""

from __future__ import annotations

import argparse
import time

from _common import (
    FLOOR_ASGI,
    FLOOR_GUNICORN,
    FLOOR_UWSGI,
    LIBRARY_ASGI,
    LIBRARY_GUNICORN,
    LIBRARY_GUNICORN_GEVENT,
    LIBRARY_GUNICORN_PRELOAD,
    LIBRARY_UWSGI,
    LIBRARY_UWSGI_LAZY_APPS,
    PER_REQUEST,
    RECIPE_UWSGI,
    Result,
    cassandra_process,
    emit,
    get,
    median,
    parse_args,
    runnable,
    serve,
)

VARIANTS = [
    LIBRARY_GUNICORN,
    LIBRARY_GUNICORN_PRELOAD,
    LIBRARY_GUNICORN_GEVENT,
    LIBRARY_UWSGI,
    LIBRARY_UWSGI_LAZY_APPS,
    RECIPE_UWSGI,
    PER_REQUEST,
    FLOOR_GUNICORN,
    FLOOR_UWSGI,
    LIBRARY_ASGI,
    FLOOR_ASGI,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steady", type=int, default=100)
    parser.add_argument("--settle", type=float, default=2.0)
    args = parse_args(parser, quick={"rounds": 1, "steady": 5, "settle": 0.2})
    result = Result(
        "First request after boot vs steady state (1 worker, medians)",
        ["variant", "first request ms", "steady median ms", "first / steady", "first - steady ms"],
        chart_unit="first request / steady median",
    )
    with cassandra_process() as target:
        for variant in runnable(VARIANTS, result):
            firsts, steadies = [], []
            for _ in range(args.rounds):
                with serve(variant, target, workers=1) as server:
                    time.sleep(args.settle)
                    firsts.append(get(server.port)[0] * 1000)
                    count = args.steady if variant is not PER_REQUEST else max(10, args.steady // 5)
                    steadies.append(median([get(server.port)[0] * 1000 for _ in range(count)]))
            first, steady = median(firsts), median(steadies)
            result.rows.append([variant.label, first, steady, f"{first / steady:.2f}x", first - steady])
            result.chart[variant.label] = first / steady
    result.notes.append(
        f"{args.rounds} rounds, a fresh server each; the first request is sent {args.settle:g} s after the port "
        "listens; one prepared read per request; a new HTTP connection per request."
    )
    result.notes.append(
        "The 'no Cassandra' rows are the HTTP floor: a worker's first request costs extra even with no database "
        "(first use of the server's and the interpreter's code paths). Compare 'first - steady' with the floor: "
        "what is above it is the database layer's first-request cost."
    )
    emit(result)


if __name__ == "__main__":
    main()
