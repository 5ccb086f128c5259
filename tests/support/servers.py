"""Drive real uWSGI, Gunicorn and Uvicorn servers from tests and benches: start, wait, GET, read the log, stop.

Every server listens on 127.0.0.1 on a free port, writes its log to a file, and is stopped by its user
(use :func:`running` or call :meth:`Server.stop` in a ``finally``); every wait is bounded::

    with running("gunicorn", "tests.apps.items:application", "--workers", "2", env=env) as server:
        server.wait_http("/ping")
        replies = server.every_worker("/")       # a 200 from each worker, not from whichever answered
        assert set(replies) == server.worker_pids()

The binaries are the ones next to ``sys.executable`` (the venv's). uWSGI gets ``--die-on-term`` and a
master hook so that SIGTERM means a *graceful* shutdown (workers run their ``atexit``), like Gunicorn.
HTTP helpers (:func:`~tests.support.clients.get`, ``hammer``, ``every_worker``) are in
:mod:`tests.support.clients`, bounded waits in :mod:`tests.support.wait`.
"""

from __future__ import annotations

import contextlib
import http.client
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

from tests.support.clients import HOST, Reply, every_worker, fetch, free_port
from tests.support.wait import stays, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


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

    def wait_listening(self, *, timeout: float = 20.0) -> None:
        """Wait until the port accepts a TCP connection, sending no request (the first request stays the
        caller's to time); raises with the log if the server died."""

        def accepts() -> bool:
            self.check_alive()
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until(accepts, timeout=timeout, what=f"{self.kind} listening on port {self.port}")

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

    def every_worker(
        self, path: str = "/", *, accept: Callable[[Reply], bool] | None = None, timeout: float = 20.0
    ) -> dict[int, Reply]:
        """A reply that ``accept`` takes (default: status 200) from every current worker; see
        :func:`tests.support.clients.every_worker`."""

        def workers() -> set[int]:
            self.check_alive()
            return self.worker_pids()

        if accept is None:
            return every_worker(self.port, path, workers, timeout=timeout)
        return every_worker(self.port, path, workers, accept=accept, timeout=timeout)

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


def uvicorn_command(app: str, port: int, args: Sequence[str]) -> list[str]:
    """``uvicorn`` for ASGI apps (``--workers N`` spawns N processes; the master only supervises)."""
    return [
        str(BIN / "uvicorn"),
        *("--host", HOST, "--port", str(port), "--app-dir", str(REPO)),
        *("--timeout-graceful-shutdown", "5"),
        *args,
        app,
    ]


def waitress_command(app: str, port: int, args: Sequence[str]) -> list[str]:
    """waitress: one process, a pool of threads, no fork."""
    return [str(BIN / "waitress-serve"), "--listen", f"{HOST}:{port}", *args, app]


def server_command(kind: str, app: str, port: int, args: Sequence[str]) -> list[str]:
    """The command line :func:`start` runs (run it from ``REPO`` with :func:`server_env`)."""
    if kind == "uwsgi":
        return uwsgi_command(app, port, args)
    if kind == "gunicorn":
        return gunicorn_command(app, port, args)
    if kind == "uvicorn":
        return uvicorn_command(app, port, args)
    if kind == "waitress":
        return waitress_command(app, port, args)
    raise ValueError(f"unknown server kind {kind!r}; accepted: uwsgi, gunicorn, uvicorn, waitress")


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
    """Start ``kind`` ("uwsgi", "gunicorn", "uvicorn" or "waitress") serving ``app`` ("module:callable").

    Does not wait."""
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
    stats.wait_for("startups", expected, timeout=30, compare=at_least)
    server.wait_log(r"pid \d+: Cassandra session ready", count=workers, timeout=30)
    assert stats.startups == expected, server.log()
    warmed = ready_pids(server.log())
    assert len(warmed) == len(set(warmed)) == workers
    # Warm before serving: no warmer gave up waiting for its session (under gevent, a blocked hub made one
    # wait out its WSGI_CASSANDRA_WARM_TIMEOUT, then serve without it).
    assert "serving without a Cassandra session" not in server.log(), server.log()
    workers_now = server.worker_pids() | ({server.pid} if master_serves else set())
    assert set(warmed) <= workers_now, "each session was built in a worker, not the master"

    # A 200 from each warmed worker (whichever accepts a connection answers: ask until each did)...
    by_worker = every_worker(server.port, "/", set(warmed), timeout=30)
    # ...then plenty of concurrent traffic: every answer from a warmed worker, with nothing new connected.
    replies = [*by_worker.values(), *get_many(server, "/", 100)]
    assert {reply.status for reply in replies} == {200}
    answers = [reply.json() for reply in replies]
    assert all(answer["rows"] == ROWS for answer in answers)
    assert all(answer["built_pid"] == answer["pid"] for answer in answers)
    served = {answer["pid"] for answer in answers}
    assert served == set(warmed), "every worker served, each from the session it built itself"
    assert stays(lambda: stats.startups == expected, seconds=0.3), "no request paid for a connect"
    return served


def assert_replacement_warm(server: Server, cassandra: Any, per_session: int, first_pid: int) -> None:
    """After a recycle (the one worker, ``first_pid``, exited and a new one was forked): the new worker
    built its session before any request to it, answers from it with the rows, and the old one closed its."""
    stats = cassandra.embedded.stats
    stats.wait_for("startups", 2 * per_session, timeout=20, compare=at_least)
    ready = wait_until(lambda: len(ready_pids(server.log())) >= 2 and ready_pids(server.log()), timeout=10)
    assert ready[0] == first_pid
    assert ready[1] != first_pid
    second = server.get("/").json()
    assert second["pid"] == second["built_pid"] == ready[1]
    assert second["rows"] == ROWS
    assert stats.startups == 2 * per_session
    stats.wait_for("connections_open", per_session, timeout=5, compare=lambda c, w: c <= w)


def stop_and_check_closed(server: Server, cassandra: Any) -> float:
    """Stop the server; every connection to the test server closes within 5 s. Returns the seconds."""
    started = time.monotonic()
    server.stop()
    cassandra.embedded.stats.wait_for("connections_open", 0, timeout=5)
    return time.monotonic() - started
