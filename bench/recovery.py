"""Recovery after a full outage: seconds from the first node answering again to each worker's first 200.

2 Gunicorn workers read from a 3-node CQL test cluster under light traffic (one read every 50 ms); every
node is stopped for ``--outage`` seconds -- longer than the driver's largest reconnection delay, so each
worker's driver has backed off to its cap -- then all are started again. Measured per worker: from the
moment the first node listens again to the first ``200`` that worker serves. Run twice: with the library
as shipped (probing every host while all are down, ``wsgi_cassandra.recovery``) and with the probing
turned off (the driver alone, waiting for its next scheduled reconnection)::

    python bench/recovery.py [--outage 20] [--reconnect-max 10] [--quick]

Default retry settings (``WSGI_CASSANDRA_RETRY_MAX`` 30 s); the library's reconnection policy is
exponential from 1 s capped at 60 s, and an outage longer than that cap would make the run last minutes,
so the cap is 10 s here (``--reconnect-max 60 --outage 70`` for the real one); the probing does not depend
on it. Exits 1 if a worker did not serve again within the bound (the cap plus 30 s). Everything runs on
127.0.0.x; every loop has a count and a deadline. The cluster runs in this process (the client only polls:
its CPU does not matter for a figure in seconds).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _common import Result, emit, parse_args  # noqa: E402

from tests.support.clients import get  # noqa: E402
from tests.support.drills import drill_env, seed, start_drill_server, wait_ready  # noqa: E402
from tests.support.wait import eventually  # noqa: E402
from wsgi_cassandra.testing import CQLCluster  # noqa: E402

STEP = 0.05  # seconds between reads during the outage
GOAL = 5.0  # seconds: every worker serves within this of the first node answering


def outage_run(nodes: CQLCluster, *, outage: float, reconnect_max: float, probing: bool) -> dict[int, float | None]:
    """One drill; each worker pid -> seconds from the first node listening to its first 200 (None: never)."""
    extra = {"WSGI_CASSANDRA_RETRY_MAX": "30", "DRILL_RECONNECT_MAX": str(reconnect_max)}
    if not probing:
        extra["DRILL_NO_RECOVERY"] = "1"
    web = start_drill_server("gunicorn", drill_env(nodes.contact_points, nodes.port, **extra), workers=2)
    try:
        pids = web.worker_pids()
        if not wait_ready(web, timeout=30):
            raise RuntimeError("workers did not get ready:\n" + web.log()[-3000:])
        for index in range(3):
            nodes.stop_node(index)
        down: set[int] = set()
        ends = time.monotonic() + outage
        for _ in range(int(outage / STEP) + 2):  # traffic: how each worker's driver notices its hosts gone
            if time.monotonic() >= ends:
                break
            get(web.port, "/read", timeout=5)
            health = get(web.port, "/healthz", timeout=5)
            if health.status == 503 and health.json().get("state") == "hosts_down":
                down.add(int(health.json()["pid"]))
            time.sleep(STEP)
        if down != pids:
            raise RuntimeError(f"not every worker saw the outage: {sorted(down)} of {sorted(pids)}")
        nodes.start_node(0)
        answering = time.monotonic()  # the first node listens again
        nodes.start_node(1)
        nodes.start_node(2)
        return first_200(web.port, pids, answering, timeout=reconnect_max + 30.0)
    finally:
        web.stop(30.0)


def first_200(port: int, pids: set[int], since: float, *, timeout: float) -> dict[int, float | None]:
    """Read from 4 threads until every worker in ``pids`` has served a 200 (or ``timeout``)."""
    first: dict[int, float] = {}
    lock = threading.Lock()
    deadline = since + timeout

    def client() -> None:
        for _ in range(int(timeout / 0.005) + 1):
            with lock:
                if set(first) >= pids or time.monotonic() >= deadline:
                    return
            reply = get(port, "/read?3", timeout=5)
            if reply.status == 200:
                with lock:
                    first.setdefault(int(reply.json()["pid"]), time.monotonic() - since)
            else:
                time.sleep(0.005)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 30)
    return {pid: first.get(pid) for pid in sorted(pids)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=20.0, help="seconds every node stays down (default 20)")
    parser.add_argument("--reconnect-max", type=float, default=10.0, help="the driver's reconnection cap, s")
    args = parse_args(parser, quick={"outage": 3.0, "reconnect_max": 2.0})
    if not 1.0 <= args.reconnect_max <= 600.0 or not 1.0 <= args.outage <= 1800.0:
        parser.error("--reconnect-max must be 1..600 and --outage 1..1800 seconds")

    runs: dict[str, dict[int, float | None]] = {}
    with CQLCluster(nodes=3) as nodes:
        seed(nodes.contact_points, nodes.port)
        for label, probing in (("library (probing while all hosts are down)", True), ("driver alone", False)):
            runs[label] = outage_run(nodes, outage=args.outage, reconnect_max=args.reconnect_max, probing=probing)
            eventually(lambda: all(server.running for server in nodes.servers), timeout=5)

    result = Result(
        title=f"Recovery after a {args.outage:.0f} s full outage of a 3-node test cluster, 2 Gunicorn workers: "
        "seconds from the first node answering to each worker's first 200",
        headers=["reconnection", "worker 1 s", "worker 2 s", "slowest s"],
        chart_unit="s",
    )
    failed = False
    for label, figures in runs.items():
        values = list(figures.values())
        failed |= label.startswith("library") and any(value is None for value in values)
        slowest = None if any(value is None for value in values) else max(v for v in values if v is not None)
        result.rows.append([label, *(_seconds(value) for value in values), _seconds(slowest)])
        if slowest is not None:
            result.chart[f"{label}: slowest worker"] = round(slowest, 2)
    library = [v for v in next(iter(runs.values())).values() if v is not None]
    result.notes += [
        f"the driver's reconnection policy: exponential from 1 s capped at {args.reconnect_max:.0f} s"
        + (
            " (the library's own cap is 60 s; a shorter one keeps the run short and does not change the probing)"
            if args.reconnect_max != 60
            else " (the library's own)"
        )
        + "; default retry settings otherwise",
        "the driver alone waits for its next scheduled reconnection: anywhere between 0 s and the cap after the "
        "node is back, depending on where its schedule stands (one sample per run)",
        f"goal: every worker within {GOAL:.0f} s -- "
        + ("met" if len(library) == 2 and max(library) <= GOAL else "NOT met on this run"),
    ]
    emit(result)
    print("FAIL" if failed else "PASS", flush=True)
    return 1 if failed else 0


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
