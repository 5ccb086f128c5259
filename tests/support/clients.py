"""How tests and benches talk to things: a free port, HTTP GETs to real servers, an in-process WSGI call,
a driver ``Cluster`` for a CQL test server or cluster. One copy of each, used everywhere::

    port = free_port()
    reply = get(port, "/read")                     # status 0 if the connection failed, never raises
    replies = every_worker(port, "/read", pids)   # one 200 from each worker, whichever answers first
    status, headers, body = call(app, "/healthz")  # in-process, the way a WSGI server calls the app
    with driver(cql_server) as cluster: ...        # always shut down

:func:`every_worker` exists because a pre-fork server hands each new connection to whichever worker
accepts it: a single probe says nothing about the *other* workers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Union

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from cassandra.cluster import Cluster

    from wsgi_cassandra.testing import CQLCluster, CQLServer, ServerProcess

__all__ = [
    "HOST",
    "Headers",
    "Reply",
    "Sample",
    "call",
    "driver",
    "every_worker",
    "fetch",
    "free_port",
    "get",
    "hammer",
]

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Headers(dict[str, str]):
    """Response headers, looked up by name in any case (``"Retry-After"`` or ``"retry-after"``)."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((name.lower(), value) for name, value in pairs)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


# --- HTTP to a real server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int  # 0: the connection failed (only from get())
    headers: Headers
    body: bytes
    seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)

    def pid(self) -> int | None:
        """The ``pid`` of the worker that answered, when the body is JSON that says it."""
        try:
            value = self.json().get("pid")
        except (ValueError, AttributeError):
            return None
        return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def fetch(port: int, path: str = "/", *, timeout: float = 10.0, host: str = HOST) -> Reply:
    """One HTTP GET to ``host:port`` on a new connection (so any worker may answer); raises ``OSError`` or
    ``http.client.HTTPException`` when the connection fails."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        return Reply(response.status, Headers(response.getheaders()), body, time.monotonic() - started)
    finally:
        conn.close()


def get(port: int, path: str = "/", *, timeout: float = 10.0, host: str = HOST) -> Reply:
    """:func:`fetch`, but a connection that fails gives a reply with ``status`` 0 instead of raising."""
    started = time.monotonic()
    try:
        return fetch(port, path, timeout=timeout, host=host)
    except (OSError, http.client.HTTPException):
        return Reply(0, Headers(), b"", time.monotonic() - started)


def _ok(reply: Reply) -> bool:
    return reply.status == 200


def every_worker(
    port: int,
    path: str,
    pids: set[int] | Callable[[], set[int]],
    *,
    accept: Callable[[Reply], bool] = _ok,
    timeout: float = 20.0,
    concurrency: int = 4,
) -> dict[int, Reply]:
    """GET ``path`` (``concurrency`` at a time, so that busy workers leave the next ones to the others)
    until every pid in ``pids`` has given a reply that ``accept`` takes (the worker is the body's JSON
    ``pid``); return the last accepted reply of each. ``TimeoutError`` naming the workers that never did.

    ``pids`` may be a callable (``server.worker_pids``), asked again each round."""
    deadline = time.monotonic() + timeout
    accepted: dict[int, Reply] = {}
    wanted: set[int] = set()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="every-worker") as pool:
        for _ in range(int(timeout / 0.02) + 2):
            wanted = pids() if callable(pids) else set(pids)
            replies = list(pool.map(lambda _: get(port, path, timeout=5.0), range(concurrency)))
            for reply in replies:
                pid = reply.pid()
                if pid is not None and accept(reply):
                    accepted[pid] = reply
            if wanted and wanted <= set(accepted):
                return {pid: accepted[pid] for pid in wanted}
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
    missing = sorted(wanted - set(accepted))
    raise TimeoutError(f"GET {path}: worker(s) {missing} did not answer as expected within {timeout:.1f} s")


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the hammer started, when the request was sent
    status: int  # 0: the connection failed
    seconds: float


def hammer(
    port: int,
    path: str,
    *,
    seconds: float,
    threads: int = 4,
    limit: int = 100_000,
    started: float | None = None,
    until: Callable[[], bool] | None = None,
) -> list[Sample]:
    """:func:`get` ``path`` from ``threads`` client threads for at least ``seconds``, and on until
    ``until()`` (at most 60 s more; at most ``limit`` requests in all). ``started`` is the
    ``time.monotonic()`` the samples' ``at`` count from (default: now). The samples in sending order."""
    started = time.monotonic() if started is None else started
    samples: list[Sample] = []
    lock = threading.Lock()
    hard_stop = started + seconds + 60.0

    def more() -> bool:
        now = time.monotonic()
        if now >= hard_stop:
            return False
        return now - started < seconds or (until is not None and not until())

    def client() -> None:
        while more():
            with lock:
                if len(samples) >= limit:
                    return
            reply = get(port, path, timeout=10)
            with lock:
                samples.append(Sample(time.monotonic() - started - reply.seconds, reply.status, reply.seconds))

    workers = [threading.Thread(target=client, name=f"hammer-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 90)
    return sorted(samples, key=lambda sample: sample.at)


# --- in-process WSGI ------------------------------------------------------------------------------------


def call(app: Any, path: str = "/", *, environ: dict[str, Any] | None = None) -> tuple[str, Headers, bytes]:
    """Call a WSGI ``app`` in-process, the way a server would (the body is joined, then closed); returns
    ``(status, headers, body)``. Pass ``environ`` (a dict) to look at it afterwards."""
    environ = {} if environ is None else environ
    environ.update({"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.url_scheme": "http"})
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, Headers(headers)
        return lambda data: None

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return seen["status"], seen["headers"], data


# --- the driver -----------------------------------------------------------------------------------------

Node = Union["CQLServer", "CQLCluster", "ServerProcess"]


@contextlib.contextmanager
def driver(node: Node, **options: Any) -> Iterator[Cluster]:
    """A plain driver ``Cluster`` for a CQL test server (in or out of process) or cluster, always shut down
    (its threads leak otherwise); ``options`` go to ``Cluster`` (``contact_points`` too: default, every node)."""
    from cassandra.cluster import Cluster

    contact_points = options.pop("contact_points", None) or list(
        getattr(node, "contact_points", None) or [node.host]  # type: ignore[union-attr]
    )
    cluster = Cluster(contact_points=contact_points, port=node.port, **options)
    try:
        yield cluster
    finally:
        cluster.shutdown()


def refused_versions(newest_accepted: int = 5) -> int:
    """How many protocol versions the installed driver tries, and a node whose newest is ``newest_accepted``
    refuses, before it connects: cassandra-driver starts at DataStax's private DSE_V2 (66), then DSE_V1 (65),
    so 2 against Apache Cassandra 4+; scylla-driver knows no DSE versions and starts at v5, so 0."""
    from cassandra import ProtocolVersion

    stepped = (v for v in ProtocolVersion.SUPPORTED_VERSIONS if v not in ProtocolVersion.BETA_VERSIONS)
    return sum(1 for version in stepped if version > newest_accepted)  # a beta version is skipped, not tried
