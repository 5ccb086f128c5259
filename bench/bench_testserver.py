"""Benchmark of the CQL test server as a separate process, seen from one default driver session.

    python bench/bench_testserver.py [--connects 7] [--reads 20000] [--seconds 10] [--concurrency 64]

Starts ``python -m wsgi_cassandra.testing`` on 127.0.0.1 and a free port, then reports the median
``Cluster().connect()`` time and simple prepared reads per second (bounded by a count and a deadline),
as a small table. The server runs in its own process so the driver's own cost is not mixed into it.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgi_cassandra.testing", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the server prints one line once it listens
    if "listening" not in line:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc


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


def _reads(port: int, reads: int, seconds: float, concurrency: int) -> dict[str, Any]:
    cluster = Cluster(contact_points=["127.0.0.1"], port=port)
    try:
        session = cluster.connect()
        session.execute(
            "CREATE KEYSPACE IF NOT EXISTS bench "
            "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute("CREATE TABLE IF NOT EXISTS bench.kv (k int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)")
        execute_concurrent_with_args(session, insert, [(k, f"value-{k}") for k in range(100)])
        select = session.prepare("SELECT v FROM bench.kv WHERE k = ?")
        for k in range(200):  # warm up
            session.execute(select, (k % 100,))

        sync_done, started = 0, time.perf_counter()
        while sync_done < min(reads, 5000) and time.perf_counter() - started < seconds / 2:
            session.execute(select, (sync_done % 100,))
            sync_done += 1
        sync_rate = sync_done / (time.perf_counter() - started)

        done, started = 0, time.perf_counter()
        deadline = started + seconds / 2
        batch = 1000
        while done < reads and time.perf_counter() < deadline:
            args = [((done + i) % 100,) for i in range(min(batch, reads - done))]
            results = execute_concurrent_with_args(session, select, args, concurrency=concurrency)
            assert all(ok for ok, _ in results)
            done += len(args)
        rate = done / (time.perf_counter() - started)
        return {"sync": sync_rate, "sync_n": sync_done, "concurrent": rate, "concurrent_n": done}
    finally:
        cluster.shutdown()


def _raw_capacity(port: int, reads: int, seconds: float, window: int = 128) -> tuple[int, float]:
    """Server-side capacity: pipelined v4 EXECUTEs from a raw socket, so the driver's cost is out."""
    from cassandra.protocol import ExecuteMessage, PrepareMessage, ProtocolHandler, StartupMessage

    def frame(msg: Any, stream: int) -> bytes:
        return bytes(ProtocolHandler.encode_message(msg, stream, 4, None, False))

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        buf = bytearray()

        def read_frames(count: int) -> list[bytes]:
            bodies = []
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
        sock.sendall(frame(PrepareMessage("SELECT v FROM bench.kv WHERE k = ?"), 1))
        prepared = read_frames(1)[0]
        query_id = prepared[9 + 4 + 2 : 9 + 4 + 2 + int.from_bytes(prepared[13:15], "big")]
        batch = b"".join(frame(ExecuteMessage(query_id, [(i % 100).to_bytes(4, "big")], 1), i) for i in range(window))
        done, started = 0, time.perf_counter()
        while done < reads and time.perf_counter() - started < seconds:
            sock.sendall(batch)
            read_frames(window)
            done += window
        return done, done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connects", type=int, default=7)
    parser.add_argument("--reads", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    port = _free_port()
    proc = _start_server(port)
    try:
        connects = _connect_times(port, args.connects)
        reads = _reads(port, args.reads, args.seconds, args.concurrency)
        raw_done, raw_rate = _raw_capacity(port, args.reads, args.seconds / 2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    concurrency, median = args.concurrency, statistics.median(connects) * 1000
    rows = [
        (f"connect (median of {len(connects)})", f"{median:.1f} ms"),
        ("connect (min / max)", f"{min(connects) * 1000:.1f} / {max(connects) * 1000:.1f} ms"),
        (f"prepared reads, sequential ({reads['sync_n']})", f"{reads['sync']:.0f} /s"),
        (f"prepared reads, concurrency {concurrency} ({reads['concurrent_n']})", f"{reads['concurrent']:.0f} /s"),
        (f"server capacity, pipelined raw v4 ({raw_done})", f"{raw_rate:.0f} /s"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)} | value")
    print(f"{'-' * width}-|-{'-' * 16}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
