"""Bench 3: requests per second with 2 workers, loopback load, bounded: library vs recipe vs per-request.

    python bench/throughput.py [--seconds 3] [--clients 4]

For each server (Gunicorn sync, uWSGI, and Gunicorn's Uvicorn worker for ASGI) the same app -- one prepared
read per request -- is served by this library, by the hand-written recipe (a global session: built in uWSGI
``@postfork``, or at import in each Gunicorn worker) and, for Gunicorn sync, by connecting per request.
``--clients`` threads send requests on new connections for ``--seconds`` (and at most ``--max-requests``)
after a warm-up of every worker.
"""

from __future__ import annotations

import argparse
import threading
import time

from _common import (
    LIBRARY_ASGI,
    LIBRARY_GUNICORN,
    LIBRARY_GUNICORN_GEVENT,
    LIBRARY_UWSGI,
    PER_REQUEST,
    RECIPE_ASGI,
    RECIPE_GUNICORN,
    RECIPE_GUNICORN_GEVENT,
    RECIPE_UWSGI,
    Result,
    Variant,
    cassandra_process,
    emit,
    get,
    median,
    parse_args,
    runnable,
    serve,
    worker_pids,
)

GROUPS = [
    ("Gunicorn sync", [LIBRARY_GUNICORN, RECIPE_GUNICORN, PER_REQUEST]),
    ("Gunicorn gevent", [LIBRARY_GUNICORN_GEVENT, RECIPE_GUNICORN_GEVENT]),
    ("uWSGI", [LIBRARY_UWSGI, RECIPE_UWSGI]),
    ("Gunicorn Uvicorn worker (ASGI)", [LIBRARY_ASGI, RECIPE_ASGI]),
]


def load(port: int, clients: int, seconds: float, max_requests: int) -> float:
    """Requests per second over ``seconds`` with ``clients`` threads (bounded by ``max_requests``)."""
    done = [0] * clients
    deadline = time.monotonic() + seconds
    budget = max_requests // clients

    def client(index: int) -> None:
        for _ in range(budget):
            if time.monotonic() >= deadline:
                return
            get(port)
            done[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=20000)
    args = parse_args(parser, quick={"seconds": 0.5, "rounds": 1, "clients": 2, "max_requests": 200})
    result = Result(
        "Throughput, 2 workers, one prepared read per request",
        ["server", "variant", "requests/s", "vs recipe"],
        chart_unit="requests/s",
    )
    with cassandra_process() as target:
        for server_name, group in GROUPS:
            variants = runnable(group, result)
            if not variants:
                continue
            samples: dict[Variant, list[float]] = {variant: [] for variant in variants}
            for _ in range(args.rounds):  # interleaved, so that drifts of the machine hit every variant alike
                for variant in variants:
                    with serve(variant, target, workers=2) as server:
                        worker_pids(server, 2)  # every worker has served (and connected) before measuring
                        for _ in range(20):
                            get(server.port)
                        samples[variant].append(load(server.port, args.clients, args.seconds, args.max_requests))
            rates = {variant: median(values) for variant, values in samples.items()}
            recipe = next(rate for variant, rate in rates.items() if variant.app.startswith("recipe"))
            for variant, rate in rates.items():
                result.rows.append([server_name, variant.label, rate, f"{rate / recipe:.2f}x"])
                result.chart[f"{variant.label}"] = rate
    result.notes.append(
        f"{args.clients} client threads in the bench process, new HTTP connection per request, "
        f"median of {args.rounds} interleaved runs of {args.seconds:g} s per variant; "
        "the CQL server, both workers and the clients share this machine's CPUs."
    )
    emit(result)


if __name__ == "__main__":
    main()
