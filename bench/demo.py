"""Why wsgi-cassandra exists, in numbers: ``python3 dev.py demo`` (no browser needed, loopback only).

Serves the web.py example twice under Gunicorn with two workers -- once with ``CassandraMiddleware``
(each worker's session built after the fork, before the first request) and once connecting to Cassandra
inside every request, the approach the library replaces -- sends the same requests to both and prints
the first-request and median latency. Uses the embedded CQL test server unless
``CASSANDRA_CONTACT_POINTS`` names a real cluster. Finishes in a few seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "webpy_app"

if TYPE_CHECKING:
    from collections.abc import Mapping

VARIANTS = (
    ("wsgi-cassandra", "app:application", "once per worker, before serving"),
    ("connect per request", "naive:application", "inside every request"),
)


@dataclass
class Result:
    name: str
    built: str
    latencies: list[float] = field(default_factory=list)
    workers_ready: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def first(self) -> float:
        return self.latencies[0] if self.latencies else float("nan")

    @property
    def median(self) -> float:
        rest = self.latencies[1:]
        return statistics.median(rest) if rest else float("nan")


def measure(
    server: str, env: Mapping[str, str], variant: tuple[str, str, str], *, requests: int, budget: float, logs: Path
) -> Result:
    """Start the server for ``app``, wait for its workers to be ready, then time ``requests`` GETs."""
    from launch import get, start_web, stop, wait_for_workers

    name, app, built = variant
    result = Result(name, built)
    web = start_web(server, env, app=app, log=logs / f"{app.partition(':')[0]}.log")
    try:
        if app.startswith("app:"):
            result.workers_ready = wait_for_workers(web, count=2, timeout=10.0)
            if len(result.workers_ready) < 2:  # this server has no warm-up hook here: the lazy path
                result.built = f"before serving in {len(result.workers_ready)} of 2 workers, else lazily"
        else:
            time.sleep(0.5)  # both workers booted: nothing else to wait for
        deadline = time.monotonic() + budget
        for _ in range(requests):
            if time.monotonic() > deadline:
                break
            status, body, elapsed = get(web.host, web.port, "/")
            if status != 200 or "greetings from Cassandra" not in body:
                result.errors += 1
            result.latencies.append(elapsed)
    finally:
        stop(web.proc)
    return result


def table(results: list[Result]) -> str:
    lines = [
        f"{'':22} {'first request':>14} {'median':>10} {'requests':>9}   session built",
        f"{'':22} {'-' * 14:>14} {'-' * 10:>10} {'-' * 9:>9}   {'-' * 31}",
    ]
    for r in results:
        lines.append(
            f"{r.name:22} {r.first:11.1f} ms {r.median:7.1f} ms {len(r.latencies):9d}   {r.built}"
            + (f"  ({r.errors} failed)" if r.errors else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 dev.py demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per variant (default 40)")
    parser.add_argument("--server", choices=("gunicorn", "uwsgi"), default="gunicorn")
    parser.add_argument("--quick", action="store_true", help="3 requests per variant: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = 3
    sys.path.insert(0, str(EXAMPLE))
    from launch import LaunchError, seed_schema, start_test_server, stop

    env = dict(os.environ)
    test_server = None
    try:
        if env.get("CASSANDRA_CONTACT_POINTS"):
            print(f"demo: Cassandra at {env['CASSANDRA_CONTACT_POINTS']}", flush=True)
        else:
            test_server, port = start_test_server()
            env.update(CASSANDRA_CONTACT_POINTS="127.0.0.1", CASSANDRA_PORT=str(port))
            print(f"demo: embedded CQL test server on 127.0.0.1:{port}", flush=True)
        seed_schema(env)
        results = []
        with tempfile.TemporaryDirectory(prefix="wsgi-cassandra-demo-") as logs:
            for variant in VARIANTS:
                print(f"demo: {args.server} with 2 workers, {variant[0]} ...", flush=True)
                results.append(measure(args.server, env, variant, requests=args.requests, budget=20.0, logs=Path(logs)))
    except LaunchError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if test_server is not None:
            stop(test_server)
    print()
    print(table(results))
    ready = results[0].workers_ready
    if ready:
        warmups = ", ".join(f"pid {pid}: {ms} ms" for pid, ms in sorted(ready.items()))
        print(f"\nwsgi-cassandra workers built their sessions before the first request ({warmups}).")
    speedup = results[1].median / results[0].median if results[0].median else float("nan")
    print(f"Connecting per request makes the typical request {speedup:.0f}x slower here, on loopback against")
    print("a one-node test server; across a network, with several nodes and a real schema, the gap only grows.")
    return 1 if any(r.errors or not r.latencies for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
