"""Drive real uWSGI and Gunicorn servers from tests: start, wait, GET, read the log, stop.

Every server listens on 127.0.0.1 on a free port, writes its log to a file, and is stopped by the test
(use :func:`running` or call :meth:`Server.stop` in a ``finally``); every wait is bounded::

    with running("gunicorn", "tests.apps.items:application", "--workers", "2", env=env) as server:
        server.wait_http("/ping")
        reply = server.get("/")
        assert reply.status == 200 and reply.json()["pid"] in server.worker_pids()

The binaries are the ones next to ``sys.executable`` (the venv's). uWSGI gets ``--die-on-term`` and a
master hook so that SIGTERM means a *graceful* shutdown (workers run their ``atexit``), like Gunicorn.

For load and outage drills, :func:`get` never raises (a failed connection is a reply with status 0) and
:func:`hammer` GETs from several threads for a while; :func:`eventually` waits like :func:`wait_until` but
returns the last falsy result instead of raising, for ``assert eventually(...), server.log()``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def eventually(check: Callable[[], Any], *, timeout: float, step: float = 0.05) -> Any:
    """Call ``check`` until it returns something truthy and return that; after ``timeout`` seconds (and a
    bounded number of calls) return its last, falsy, result."""
    deadline = time.monotonic() + timeout
    result = None
    for _ in range(int(timeout / step) + 2):
        result = check()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(step)
    return result


def wait_until(check: Callable[[], Any], *, timeout: float, step: float = 0.05, what: str = "condition") -> Any:
    """Call ``check`` until it returns something truthy; ``TimeoutError`` after ``timeout`` seconds."""
    result = eventually(check, timeout=timeout, step=step)
    if not result:
        raise TimeoutError(f"{what} not reached within {timeout:.1f} s")
    return result


class Headers(dict[str, str]):
    """Response headers, looked up by name in any case (``"Retry-After"`` or ``"retry-after"``)."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((name.lower(), value) for name, value in pairs)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass(frozen=True)
class Reply:
    status: int  # 0: the connection failed (only from get())
    headers: Headers
    body: bytes
    seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(port: int, path: str = "/", *, timeout: float = 10.0) -> Reply:
    """One HTTP GET to 127.0.0.1:``port`` on a new connection (so any worker may answer); raises
    ``OSError`` or ``http.client.HTTPException`` when the connection fails."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        return Reply(response.status, Headers(response.getheaders()), body, time.monotonic() - started)
    finally:
        conn.close()


def get(port: int, path: str = "/", *, timeout: float = 10.0) -> Reply:
    """:func:`fetch`, but a connection that fails gives a reply with ``status`` 0 instead of raising."""
    started = time.monotonic()
    try:
        return fetch(port, path, timeout=timeout)
    except (OSError, http.client.HTTPException):
        return Reply(0, Headers(), b"", time.monotonic() - started)


@dataclass
class Server:
    """A running uwsgi or gunicorn process tree; see the module docstring."""

    kind: str
    port: int
    command: list[str]
    process: subprocess.Popen[bytes]
    log_path: Path
    _log_file: Any = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def get(self, path: str = "/", *, timeout: float = 10.0) -> Reply:
        """One HTTP GET to this server (:func:`fetch`: raises when the connection fails)."""
        return fetch(self.port, path, timeout=timeout)

    def wait_http(self, path: str = "/", *, timeout: float = 20.0) -> Reply:
        """GET ``path`` until the server answers anything (bounded); raises with the log if it died."""

        def attempt() -> Reply | None:
            self.check_alive()
            try:
                return self.get(path, timeout=2.0)
            except (OSError, http.client.HTTPException):
                return None

        result: Reply = wait_until(attempt, timeout=timeout, what=f"{self.kind} answering {path}")
        return result

    def wait_log(self, pattern: str, *, count: int = 1, timeout: float = 20.0) -> list[str]:
        """Wait until ``pattern`` (a regex) matched ``count`` times in the log; return the matches."""

        def found() -> list[str] | None:
            self.check_alive()
            matches = re.findall(pattern, self.log())
            return matches if len(matches) >= count else None

        result: list[str] = wait_until(found, timeout=timeout, what=f"{count} x {pattern!r} in the log")
        return result

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(f"{self.kind} exited with {code}; log:\n{self.log()[-4000:]}")

    def worker_pids(self) -> set[int]:
        """The pids of the master's direct children (the workers, plus any mule/spooler)."""
        return children_of(self.pid)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (graceful), then SIGKILL to the whole group after ``timeout``; return the exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        # Workers orphaned by a crashed master share its process group: never leave them behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.process.returncode


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def uwsgi_command(module: str, port: int, args: Sequence[str]) -> list[str]:
    return [
        str(BIN / "uwsgi"),
        "--http-socket",
        f"{HOST}:{port}",
        "--module",
        module,
        "--pythonpath",
        str(REPO),
        "--need-app",
        "--die-on-term",
        # SIGTERM = graceful shutdown (workers finish and run their atexit), not uWSGI 2.0's reload.
        "--hook-master-start",
        "unix_signal:15 gracefully_kill_them_all",
        "--worker-reload-mercy",
        "5",
        *args,
    ]


def gunicorn_command(app: str, port: int, args: Sequence[str]) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        "--chdir",
        str(REPO),
        "--graceful-timeout",
        "5",
        *_gunicorn_no_control_socket(),
        *args,
        app,
    ]


def _gunicorn_no_control_socket() -> list[str]:
    """Gunicorn 24+ opens a control socket at a fixed path in $HOME: parallel servers would share it."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def waitress_command(app: str, port: int, args: Sequence[str]) -> list[str]:
    """waitress: one process, a pool of threads, no fork."""
    return [str(BIN / "waitress-serve"), "--listen", f"{HOST}:{port}", *args, app]


def server_command(kind: str, app: str, port: int, args: Sequence[str]) -> list[str]:
    """The command line :func:`start` runs (run it from ``REPO`` with :func:`server_env`)."""
    if kind == "uwsgi":
        return uwsgi_command(app, port, args)
    if kind == "gunicorn":
        return gunicorn_command(app, port, args)
    if kind == "waitress":
        return waitress_command(app, port, args)
    raise ValueError(f"unknown server kind {kind!r}; accepted: uwsgi, gunicorn, waitress")


def server_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) with the repository on ``PYTHONPATH`` and unbuffered output."""
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), child_env.get("PYTHONPATH")]))
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    return child_env


def start(
    kind: str,
    app: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
) -> Server:
    """Start ``kind`` ("uwsgi", "gunicorn" or "waitress") serving ``app`` ("module:callable"); does not wait."""
    port = free_port()
    command = server_command(kind, app, port, args)
    directory = log_dir or Path(tempfile.mkdtemp(prefix=f"wsgi-cassandra-{kind}-"))
    log_path = directory / f"{kind}-{port}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=server_env(env),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() can reach orphaned workers too
    )
    return Server(kind, port, command, process, log_path, log_file)


@contextlib.contextmanager
def running(
    kind: str,
    app: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    stop_timeout: float = 10.0,
) -> Iterator[Server]:
    """:func:`start` a server and always stop it when the block ends."""
    server = start(kind, app, *args, env=env, log_dir=log_dir)
    try:
        yield server
    finally:
        server.stop(stop_timeout)


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the hammer started
    status: int  # 0: the connection failed
    seconds: float


def hammer(port: int, path: str, *, seconds: float, threads: int = 4, limit: int = 100_000) -> list[Sample]:
    """:func:`get` ``path`` from ``threads`` client threads for ``seconds`` (at most ``limit`` requests in
    all); the samples in the order the requests were sent."""
    import threading

    started = time.monotonic()
    samples: list[Sample] = []
    lock = threading.Lock()

    def client() -> None:
        while time.monotonic() - started < seconds:
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
        worker.join(seconds + 30)
    return sorted(samples, key=lambda sample: sample.at)


# --- facts about warmed workers, shared by the uWSGI and Gunicorn tests ----------------------------------

READY_LINE = r"pid (\d+): Cassandra session ready"
ROWS = [[0, "item-0"], [1, "item-1"], [2, "item-2"]]  # the keyspace fixture's items, as the app returns them


def ready_pids(log_text: str) -> list[int]:
    """The pids that logged "Cassandra session ready" (the test apps log wsgi_cassandra at DEBUG)."""
    return [int(pid) for pid in re.findall(READY_LINE, log_text)]


def get_many(server: Server, path: str, count: int, *, concurrency: int = 8, timeout: float = 60.0) -> list[Reply]:
    """``count`` GETs from ``concurrency`` threads, so that every worker gets some; bounded overall."""
    from concurrent.futures import ThreadPoolExecutor

    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(server.get, path) for _ in range(count)]
        return [future.result(timeout=max(0.1, deadline - time.monotonic())) for future in futures]


def handshakes_per_session(target: Any, keyspace: str) -> int:
    """How many STARTUP handshakes one ``Cluster.connect(keyspace)`` makes against the test server
    (control connection + one pool connection per host today); measured, so that tests do not hard-code
    the driver's behaviour. Leaves the server's counters reset and no connection open."""
    stats = target.embedded.stats
    stats.wait_for("connections_open", 0, timeout=5)
    stats.reset()
    with target.cluster() as cluster:
        cluster.connect(keyspace)
        per_session = stats.startups
    stats.wait_for("connections_open", 0, timeout=5)
    stats.reset()
    return int(per_session)


def at_least(current: int, wanted: int) -> bool:
    return current >= wanted


def assert_warm_workers(
    server: Server, cassandra: Any, per_session: int, workers: int, *, master_serves: bool = False
) -> set[int]:
    """Handshakes for ``workers`` sessions before any request, then 200 requests with no new one.

    Each session was built in a worker (a child of the master; ``master_serves`` for uWSGI without
    ``--master``, where the first worker is the process that started), every answer came from a session
    built in the pid that served it, with the rows of the ``keyspace`` fixture."""
    stats = cassandra.embedded.stats
    expected = per_session * workers
    stats.wait_for("startups", expected, timeout=20, compare=at_least)
    server.wait_log(r"pid \d+: Cassandra session ready", count=workers, timeout=10)
    time.sleep(0.3)  # a late extra handshake would show up here
    assert stats.startups == expected, server.log()
    warmed = ready_pids(server.log())
    assert len(warmed) == len(set(warmed)) == workers
    workers_now = server.worker_pids() | ({server.pid} if master_serves else set())
    assert set(warmed) <= workers_now, "each session was built in a worker, not the master"

    replies = get_many(server, "/", 200)
    assert {reply.status for reply in replies} == {200}
    answers = [reply.json() for reply in replies]
    assert all(answer["rows"] == ROWS for answer in answers)
    assert all(answer["built_pid"] == answer["pid"] for answer in answers)
    served = {answer["pid"] for answer in answers}
    assert served == set(warmed), "every worker served, each from the session it built itself"
    assert stats.startups == expected, "no request paid for a connect"
    return served


def stop_and_check_closed(server: Server, cassandra: Any) -> float:
    """Stop the server; every connection to the test server closes within 5 s. Returns the seconds."""
    started = time.monotonic()
    server.stop()
    cassandra.embedded.stats.wait_for("connections_open", 0, timeout=5)
    return time.monotonic() - started
