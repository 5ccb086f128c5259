"""Benchmark of the CQL test server as a separate process, seen from default driver sessions.

    python bench/bench_testserver.py [--connects 7] [--seconds 4] [--window 128] [--processes 2]

Starts ``python -m wsgi_cassandra.testing`` on 127.0.0.1 and a free port, then reports the median
``Cluster().connect()`` time and prepared single-row reads per second: one at a time, then with
``--window`` requests in flight (``execute_async``, each answer issuing the next), with the driver's
default named-tuple rows and with plain tuples, then from several client processes at once, and finally
pipelined raw v4 EXECUTEs without the driver. Besides the rate, every row gives the CPU time each side
spent per request (client process, server process from /proc): the rate moves with whatever else the
machine runs, CPU per request much less, and ``1e6 / us`` is what one core could do on that side.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from cassandra.cluster import Cluster

SELECT = "SELECT v FROM bench.kv WHERE k = ?"


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc); 0.0 elsewhere, and the table then says n/a."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _connect_times(port: int, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        cluster = Cluster(contact_points=["127.0.0.1"], port=port)
        try:
            cluster.connect()
            times.append(time.perf_counter() - started)
        finally:
            cluster.shutdown()
    return times


def _setup(port: int) -> None:
    cluster = Cluster(contact_points=["127.0.0.1"], port=port)
    try:
        session = cluster.connect()
        session.execute(
            "CREATE KEYSPACE IF NOT EXISTS bench"
            " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute("CREATE TABLE IF NOT EXISTS bench.kv (k int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)")
        for k in range(100):
            session.execute(insert, (k, f"value-{k}"))
    finally:
        cluster.shutdown()


def _client(port: int, seconds: float, window: int, rows: str) -> dict[str, float]:
    """One session: ``window`` reads in flight (0: one synchronous read at a time) for ``seconds``."""
    cluster = Cluster(contact_points=["127.0.0.1"], port=port)
    try:
        session = cluster.connect()
        if rows == "tuple":
            from cassandra.query import tuple_factory

            session.row_factory = tuple_factory
        select = session.prepare(SELECT)
        for k in range(300):  # warm up
            session.execute(select, (k % 100,))
        done, errors, finished, lock = [0], [0], threading.Event(), threading.Lock()
        cpu, started = time.process_time(), time.perf_counter()
        deadline = started + seconds
        if window == 0:
            while time.perf_counter() < deadline:
                session.execute(select, (done[0] % 100,))
                done[0] += 1
        else:

            def issue() -> None:
                session.execute_async(select, (done[0] % 100,)).add_callbacks(answered, failed)

            def answered(_: Any) -> None:
                with lock:
                    done[0] += 1
                if time.perf_counter() < deadline:
                    issue()
                else:
                    finished.set()

            def failed(_: Any) -> None:
                errors[0] += 1
                finished.set()

            for _ in range(window):
                issue()
            finished.wait(seconds + 30)
        elapsed = time.perf_counter() - started
        return {"done": done[0], "errors": errors[0], "elapsed": elapsed, "cpu": time.process_time() - cpu}
    finally:
        cluster.shutdown()


def _clients(port: int, count: int, seconds: float, window: int, rows: str) -> list[dict[str, float]]:
    """``count`` client processes at once (each its own driver, so its own GIL)."""
    args = [sys.executable, __file__, "--client", str(port), str(seconds), str(window), rows]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    return [json.loads(proc.communicate(timeout=seconds + 60)[0].strip().splitlines()[-1]) for proc in procs]


def _raw_capacity(port: int, seconds: float, window: int = 128) -> dict[str, float]:
    """Server-side capacity: pipelined v4 EXECUTEs from a raw socket, so the driver's cost is out."""
    from cassandra.protocol import ExecuteMessage, PrepareMessage, ProtocolHandler, StartupMessage

    # scylla-driver's encoder also takes the connection's negotiated protocol features; cassandra-driver's not.
    features: tuple[Any, ...] = ()
    if "protocol_features" in inspect.signature(ProtocolHandler.encode_message).parameters:
        from cassandra.protocol_features import ProtocolFeatures

        features = (ProtocolFeatures(),)

    def frame(msg: Any, stream: int) -> bytes:
        return bytes(ProtocolHandler.encode_message(msg, stream, 4, None, False, *features))

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        buf = bytearray()

        def read_frames(count: int) -> list[bytes]:
            bodies: list[bytes] = []
            while len(bodies) < count:
                while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[5:9], "big"):
                    end = 9 + int.from_bytes(buf[5:9], "big")
                    bodies.append(bytes(buf[:end]))
                    del buf[:end]
                if len(bodies) < count:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        raise ConnectionError("server closed the connection")
                    buf.extend(chunk)
            return bodies

        sock.sendall(frame(StartupMessage(cqlversion="3.4.5", options={}), 0))
        read_frames(1)
        sock.sendall(frame(PrepareMessage(SELECT), 1))
        prepared = read_frames(1)[0]
        query_id = prepared[9 + 4 + 2 : 9 + 4 + 2 + int.from_bytes(prepared[13:15], "big")]
        batch = b"".join(frame(ExecuteMessage(query_id, [(i % 100).to_bytes(4, "big")], 1), i) for i in range(window))
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            sock.sendall(batch)
            read_frames(window)
            done += window
        return {"done": done, "errors": 0, "elapsed": time.perf_counter() - started, "cpu": 0.0}


def _row(name: str, results: list[dict[str, float]], server_cpu: float | None) -> tuple[str, ...]:
    done = sum(r["done"] for r in results)
    rate = sum(r["done"] / r["elapsed"] for r in results)
    client_cpu = sum(r["cpu"] for r in results)
    client_us = f"{client_cpu / done * 1e6:.0f}" if client_cpu else "-"
    server_us = f"{server_cpu / done * 1e6:.0f}" if server_cpu else "n/a"
    errors = int(sum(r["errors"] for r in results))
    return (f"{name} ({done}{f', {errors} errors' if errors else ''})", f"{rate:.0f} /s", client_us, server_us)


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--client":
        port, seconds, window = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(_client(port, seconds, window, sys.argv[5])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connects", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=4.0, help="per measured row")
    parser.add_argument("--window", type=int, default=128, help="requests in flight per session")
    parser.add_argument("--processes", type=int, default=2, help="client processes for the parallel rows")
    parser.add_argument(
        "--quick", action="store_true", help="seconds, tiny counts: a smoke test (figures mean nothing)"
    )
    args = parser.parse_args()
    if args.quick:
        args.connects, args.seconds, args.window, args.processes = 2, 0.3, 8, 1
    from wsgi_cassandra.testing import ServerProcess

    proc = ServerProcess(python=sys.executable).start()
    port = proc.port
    rows: list[tuple[str, ...]] = []

    def measure(name: str, run: Any) -> None:
        before = _cpu_seconds(proc.pid)
        results = run()
        rows.append(_row(name, results, _cpu_seconds(proc.pid) - before))

    try:
        connects = _connect_times(port, args.connects)
        _setup(port)
        secs, window, procs = args.seconds, args.window, args.processes
        measure("reads, one at a time", lambda: _clients(port, 1, secs, 0, "named"))
        measure(f"reads, {window} in flight", lambda: _clients(port, 1, secs, window, "named"))
        measure(f"reads, {window} in flight, tuple rows", lambda: _clients(port, 1, secs, window, "tuple"))
        measure(f"reads, {procs} processes x {window}", lambda: _clients(port, procs, secs, window, "named"))
        measure(
            f"reads, {procs} processes x {window}, tuple rows", lambda: _clients(port, procs, secs, window, "tuple")
        )
        measure("raw pipelined v4, no driver", lambda: [_raw_capacity(port, secs)])
    finally:
        proc.stop()
    median = statistics.median(connects) * 1000
    low, high = min(connects) * 1000, max(connects) * 1000
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; prepared single-row reads")
    print(f"connect: median {median:.1f} ms of {len(connects)} (min {low:.1f}, max {high:.1f})")
    header = ("measure (requests)", "rate", "client CPU us/req", "server CPU us/req")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
