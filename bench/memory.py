"""Bench 6: resident memory (RSS) per worker: this library vs the hand-written recipe.

    python bench/memory.py [--requests 200]

Both serve the same app (one prepared read per request) with 2 workers; after every worker has served and
``--requests`` more requests, each worker's ``VmRSS`` is read from ``/proc/<pid>/status`` (Linux).
"""

from __future__ import annotations

import argparse

from _common import (
    LIBRARY_GUNICORN,
    LIBRARY_UWSGI,
    RECIPE_GUNICORN,
    RECIPE_UWSGI,
    Result,
    cassandra_process,
    emit,
    get,
    median,
    parse_args,
    rss_mb,
    serve,
    worker_pids,
)

PAIRS = [("Gunicorn sync", LIBRARY_GUNICORN, RECIPE_GUNICORN), ("uWSGI", LIBRARY_UWSGI, RECIPE_UWSGI)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parse_args(parser, quick={"requests": 5})
    result = Result(
        "Memory per worker (RSS, 2 workers)",
        ["server", "library MB", "recipe MB", "library - recipe MB"],
        chart_unit="MB (library - recipe)",
    )
    with cassandra_process() as target:
        for server_name, library, recipe in PAIRS:
            sizes = {}
            for variant in (library, recipe):
                with serve(variant, target, workers=2) as server:
                    pids = worker_pids(server, 2)
                    for _ in range(args.requests):
                        get(server.port)
                    sizes[variant] = median([rss_mb(pid) for pid in pids])
            delta = sizes[library] - sizes[recipe]
            result.rows.append([server_name, sizes[library], sizes[recipe], f"{delta:+.1f}"])
            result.chart[server_name] = delta
    result.notes.append(
        f"median over the workers, after each served and {args.requests} requests more; target: within 5 MB"
    )
    emit(result)


if __name__ == "__main__":
    main()
