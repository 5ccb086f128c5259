"""Load through a node outage: no failed request, no leaked thread or file descriptor.

20,000 reads (consistency ONE) at concurrency 16 over 2 Gunicorn workers (gthread, 8 threads each) while
node 2 of a 3-node CQL test cluster is stopped (after 30 % of the requests) and started again (after
60 %). Prints per phase the status counts and latencies, and per worker its threads (``/proc/PID/status``)
and open file descriptors (``/proc/PID/fd``) before and after. Exits 1 if any request got a 5xx or a
connection error, if a worker was replaced, or if a worker ended with more threads or descriptors::

    python bench/load_outage.py [--requests 20000] [--concurrency 16]

Everything is on 127.0.0.x; the cluster runs in a child process (its CPU is not the client's); the run is
bounded by the request count and a deadline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _common import Result, emit, parse_args  # noqa: E402

from tests.support.clients import get  # noqa: E402
from tests.support.drill_app import proc_figures  # noqa: E402
from tests.support.drills import drill_env, seed, start_drill_server, wait_ready  # noqa: E402
from tests.support.wait import eventually  # noqa: E402

if TYPE_CHECKING:
    from tests.support.servers import Server

DEADLINE = 300.0  # seconds for the whole load phase, whatever the request count
NODE = 1  # 127.0.0.2
SETTLE = 3.0  # seconds: longer than Gunicorn's keep-alive (2 s)


def cluster_child() -> None:
    """Child mode: run the 3-node cluster; ``stop N`` / ``start N`` on stdin, EOF stops it."""
    from wsgi_cassandra.testing import CQLCluster

    with CQLCluster(nodes=3) as cluster:
        seed(cluster.contact_points, cluster.port)
        print(json.dumps({"port": cluster.port, "contact_points": cluster.contact_points}), flush=True)
        for line in sys.stdin:
            verb, _, index = line.strip().partition(" ")
            if verb == "stop":
                cluster.stop_node(int(index))
            elif verb == "start":
                cluster.start_node(int(index))
            else:
                break
            print("ok", flush=True)


class Cluster:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--cluster"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        info = json.loads(self.process.stdout.readline())
        self.port: int = info["port"]
        self.contact_points: list[str] = info["contact_points"]

    def command(self, text: str) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise RuntimeError(f"cluster child did not do {text!r}")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Load:
    """``total`` GETs of ``/read`` from ``concurrency`` keep-alive clients; the outage follows the count."""

    def __init__(self, port: int, total: int, concurrency: int, cluster: Cluster) -> None:
        self.port, self.total, self.concurrency, self.cluster = port, total, concurrency, cluster
        self.lock = threading.Lock()
        self.issued = 0
        self.phase = "3 nodes up"
        self.samples: list[tuple[str, int, float]] = []  # (phase, status or 0, seconds)
        self.events: list[tuple[str, float]] = []
        self.hosts_up: dict[str, set[int]] = {}

    def next_request(self) -> str | None:
        with self.lock:
            if self.issued >= self.total:
                return None
            self.issued += 1
            issued = self.issued
        if issued == int(self.total * 0.3):
            self.cluster.command(f"stop {NODE}")
            self.events.append((f"node {NODE + 1} stopped", time.monotonic()))
            self.phase = "1 node down"
        elif issued == int(self.total * 0.6):
            self.cluster.command(f"start {NODE}")
            self.events.append((f"node {NODE + 1} started", time.monotonic()))
            self.phase = "node back"
        return self.phase

    def client(self, deadline: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        key = 0
        try:
            while time.monotonic() < deadline:
                phase = self.next_request()
                if phase is None:
                    return
                key += 1
                started = time.perf_counter()
                try:
                    connection.request("GET", f"/read?{key}")
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                    if response.getheader("Connection", "").lower() == "close":
                        connection.close()
                except (OSError, http.client.HTTPException):
                    status = 0
                    connection.close()
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.samples.append((phase, status, elapsed))
        finally:
            connection.close()

    def monitor(self, deadline: float, done: threading.Event) -> None:
        """What the workers' health endpoint says during each phase (``hosts_up``), every 0.2 s."""
        while not done.wait(0.2) and time.monotonic() < deadline:
            phase, response = self.phase, get(self.port, "/healthz", timeout=5)
            if response.status in (200, 503):
                self.hosts_up.setdefault(phase, set()).add(response.json().get("hosts_up", -1))

    def run(self) -> float:
        deadline = time.monotonic() + DEADLINE
        done = threading.Event()
        monitor = threading.Thread(target=self.monitor, args=(deadline, done))
        monitor.start()
        try:
            return self._run(deadline)
        finally:
            done.set()
            monitor.join(10)

    def _run(self, deadline: float) -> float:
        threads = [threading.Thread(target=self.client, args=(deadline,)) for _ in range(self.concurrency)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE + 60)
        return time.monotonic() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def hosts_up_everywhere(web: Server, pids: set[int]) -> bool:
    seen: set[int] = set()

    def check() -> bool:
        response = get(web.port, "/healthz", timeout=5)
        if response.status == 200 and response.json().get("hosts_up") == 3:
            seen.add(int(response.json()["pid"]))
        return seen >= pids

    return bool(eventually(check, timeout=60, step=0.05))


def steady_figures(pids: set[int]) -> dict[int, dict[str, int]]:
    """Each worker's threads and fds once idle: at least SETTLE seconds after the load (keep-alive
    connections expired) and unchanged over the last second (pools being opened have finished); bounded."""
    started = time.monotonic()
    last: dict[int, dict[str, int]] = {}

    def steady() -> bool:
        nonlocal last
        figures = {pid: proc_figures(pid) for pid in pids}
        same, last = figures == last, figures
        return same and time.monotonic() - started >= SETTLE

    eventually(steady, timeout=SETTLE + 30, step=1.0)
    return last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--cluster", action="store_true", help=argparse.SUPPRESS)
    args = parse_args(parser, quick={"requests": 200, "concurrency": 4})
    if args.cluster:
        cluster_child()
        return 0
    if not 1 <= args.concurrency <= 64 or not 1 <= args.requests <= 1_000_000:
        parser.error("--concurrency must be 1..64 and --requests 1..1,000,000")

    cluster = Cluster()
    env = drill_env(cluster.contact_points, cluster.port, WSGI_CASSANDRA_RETRY_MAX="5")
    web: Server | None = None
    try:
        web = start_drill_server("gunicorn", env, workers=2, threads=args.concurrency // 2 or 1)
        pids = web.worker_pids()
        if not wait_ready(web, timeout=30):
            raise RuntimeError("workers did not get ready:\n" + web.log()[-3000:])
        # Warm up until Gunicorn's gthread pools have all their threads (they grow on demand, so a worker
        # that got fewer concurrent requests has fewer: warm up again, at most 5 times, until every worker
        # has as many as the others), then let keep-alive connections expire (2 s), so that "before" and
        # "after" compare the same idle steady state.
        for _ in range(5):
            Load(web.port, min(2000, args.requests), args.concurrency, cluster).run()
            if not hosts_up_everywhere(web, pids):
                raise RuntimeError("workers did not see 3 hosts up before the load:\n" + web.log()[-3000:])
            before = steady_figures(pids)
            if len({figures["threads"] for figures in before.values()}) == 1:
                break

        load = Load(web.port, args.requests, args.concurrency, cluster)
        seconds = load.run()
        recovered = hosts_up_everywhere(web, pids)
        after = steady_figures(web.worker_pids())
        same_workers = web.worker_pids() == pids
    finally:
        stopping = time.monotonic()
        if web is not None:
            web.stop(30.0)
        took = time.monotonic() - stopping
        cluster.close()

    phases = ["3 nodes up", "1 node down", "node back"]
    requests = Result(
        title=f"Load through a node outage: {len(load.samples):,} requests, concurrency {args.concurrency}, "
        "2 Gunicorn workers, 3-node test cluster, reads at ONE",
        headers=["phase", "requests", "200", "503", "other 5xx", "conn. errors", "p50 ms", "p99 ms", "max ms"],
    )
    failures = 0
    for phase in [*phases, "all"]:
        rows = [s for s in load.samples if phase in ("all", s[0])]
        statuses = Counter(status for _, status, _ in rows)
        other_5xx = sum(n for status, n in statuses.items() if status >= 500 and status != 503)
        latencies = [seconds * 1000 for _, _, seconds in rows]
        if phase != "all":
            failures += other_5xx + statuses[0] + statuses[503]  # no full outage here: even 503 is a failure
        requests.rows.append(
            [
                phase,
                len(rows),
                statuses[200],
                statuses[503],
                other_5xx,
                statuses[0],
                round(statistics.median(latencies), 2) if latencies else "-",
                round(percentile(latencies, 0.99), 2) if latencies else "-",
                round(max(latencies), 1) if latencies else "-",
            ]
        )
    requests.notes += [
        f"{len(load.samples) / seconds:,.0f} requests/s over {seconds:.1f} s; node 2 stopped after 30 % of the "
        "requests and started after 60 %",
        "hosts_up in the health endpoint per phase: "
        + "; ".join(f"{phase}: {sorted(load.hosts_up.get(phase, ()))}" for phase in phases),
        f"all workers saw 3 hosts up again afterwards: {recovered}; same worker pids: {same_workers}; "
        f"server stop took {took:.2f} s",
    ]
    emit(requests)

    workers = Result(
        title="Per worker: threads and open file descriptors, before and after the outage",
        headers=["worker pid", "threads before", "threads after", "fds before", "fds after"],
    )
    grew = False
    for pid in sorted(pids):
        start, end = before[pid], after.get(pid, {"threads": -1, "fds": -1})
        grew |= end["threads"] > start["threads"] or end["fds"] > start["fds"]
        workers.rows.append([pid, start["threads"], end["threads"], start["fds"], end["fds"]])
    if grew and args.quick:
        # 200 requests are too few to tell a leak from a pool growing on its first use (the driver's executor
        # starts a thread the first time it reconnects to the stopped node): the full run judges that.
        workers.notes.append("quick mode: thread and fd growth is shown, not judged")
        grew = False
    emit(workers)

    ok = failures == 0 and not grew and same_workers and recovered and len(load.samples) == args.requests
    print("PASS" if ok else "FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
