"""Start and stop the example's processes: the CQL test server, and Gunicorn or uWSGI with two workers.

Shared by ``serve.py`` (``python3 dev.py serve``), ``bench/demo.py`` and the example's tests. Every
process gets a session of its own (so a Ctrl-C in the terminal reaches only the launcher, which then
stops them in order), listens on 127.0.0.1 by default, and every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

HERE = Path(__file__).resolve().parent
SERVERS = ("gunicorn", "uwsgi")
READY = re.compile(r"pid (\d+): Cassandra session ready in (\d+) ms")


class LaunchError(RuntimeError):
    """A process did not start, or not in time; the message says which and why."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (a bind with SO_REUSEADDR, as the servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def start_test_server(host: str = "127.0.0.1", timeout: float = 15.0) -> tuple[subprocess.Popen[str], int]:
    """``python -m wsgi_cassandra.testing`` on a free port of ``host``; returns the process and its port."""
    from wsgi_cassandra.testing import CQLServerError, ServerProcess

    try:
        server = ServerProcess(host, timeout=timeout).start()
    except CQLServerError as exc:
        raise LaunchError(str(exc)) from None
    assert server.proc is not None
    return server.proc, server.port


def seed_schema(env: Mapping[str, str], timeout: float = 15.0) -> None:
    """Run ``schema.seed`` against the Cassandra that ``env`` names, retrying until ``timeout``."""
    from cassandra.cluster import Cluster
    from schema import seed

    from wsgi_cassandra.config import Settings
    from wsgi_cassandra.driver import cluster_kwargs

    settings = Settings.resolve({}, env)
    deadline = time.monotonic() + timeout
    while True:
        cluster = Cluster(**cluster_kwargs(settings))
        try:
            seed(cluster.connect())
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise LaunchError(f"could not create the example's schema: {exc}") from exc
            time.sleep(0.5)
        finally:
            cluster.shutdown()


@dataclass
class WebServer:
    """A running Gunicorn or uWSGI (its master; the workers are in the same process group)."""

    kind: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path | None = None
    echoed: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def log_text(self) -> str:
        if self.log is None:
            return "".join(self.echoed)
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _echo(self) -> None:
        """Copy the server's output to ours, keeping it for :meth:`ready_workers` (a daemon thread)."""
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.echoed.append(line)
            sys.stdout.write(line)
            sys.stdout.flush()

    def ready_workers(self) -> dict[int, int]:
        """Worker pid -> milliseconds its session took, from the workers' "session ready" log lines."""
        return {int(pid): int(ms) for pid, ms in READY.findall(self.log_text())}


def server_command(kind: str, host: str, port: int, app: str | None = None) -> list[str]:
    """The command line that serves the example (or ``app``, e.g. ``naive:application``) with 2 workers."""
    if kind == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "-c", str(HERE / "gunicorn.conf.py"), "--bind", f"{host}:{port}"]
        return [*command, app] if app else command
    if kind == "uwsgi":
        uwsgi = Path(sys.executable).with_name("uwsgi")
        binary = str(uwsgi) if uwsgi.exists() else shutil.which("uwsgi")
        if binary is None:
            raise LaunchError("uwsgi is not installed: pip install 'wsgi-cassandra[uwsgi]'")
        command = [binary, "--ini", str(HERE / "uwsgi.ini"), "--home", sys.prefix]
        return [*command, "--module", app] if app else command
    raise LaunchError(f"unknown server {kind!r}; accepted: {', '.join(SERVERS)}")


def start_web(
    kind: str,
    env: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    app: str | None = None,
    log: Path | None = None,
    ready_path: str | None = None,
    timeout: float = 30.0,
) -> WebServer:
    """Start ``kind`` on ``host:port`` (0: a free port) and wait until it accepts connections, and then,
    with ``ready_path``, until a GET of it answers 200 (a worker is up and its session ready).

    Its output goes to ``log``, or else through this process's stdout (kept for :meth:`ready_workers`).
    """
    port = port or free_port(host)
    child_env = {**env, "EXAMPLE_BIND": f"{host}:{port}", "PYTHONUNBUFFERED": "1"}
    out: IO[bytes] | None = log.open("wb") if log is not None else None
    try:
        proc = subprocess.Popen(
            server_command(kind, host, port, app),
            cwd=HERE,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=out if out is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if out is not None:
            out.close()
    server = WebServer(kind, host, port, proc, log)
    if out is None:
        threading.Thread(target=server._echo, name=f"{kind}-output", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not (_accepts(host, port) and (ready_path is None or _answers(host, port, ready_path))):
        if proc.poll() is not None:
            raise LaunchError(f"{kind} exited with status {proc.returncode} before serving\n{server.log_text()}")
        if time.monotonic() > deadline:
            stop(proc)
            raise LaunchError(f"{kind} was not ready on {host}:{port} within {timeout:.0f} s\n{server.log_text()}")
        time.sleep(0.1)
    return server


def _answers(host: str, port: int, path: str) -> bool:
    try:
        return get(host, port, path, timeout=2.0)[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_workers(server: WebServer, count: int = 2, timeout: float = 15.0) -> dict[int, int]:
    """Wait (bounded) until ``count`` workers logged "session ready"; returns what was seen by then."""
    deadline = time.monotonic() + timeout
    ready = server.ready_workers()
    while len(ready) < count and time.monotonic() < deadline and server.proc.poll() is None:
        time.sleep(0.1)
        ready = server.ready_workers()
    return ready


def get(host: str, port: int, path: str = "/", timeout: float = 10.0) -> tuple[int, str, float]:
    """One HTTP GET on a new connection: status, body and milliseconds until the whole body arrived."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
    finally:
        connection.close()
    return response.status, body, (time.perf_counter() - started) * 1000.0


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10.0) -> bool:
    """SIGTERM to the master (Gunicorn, uWSGI as configured in ``uwsgi.ini`` and the test server all stop
    gracefully), SIGKILL after ``timeout``; then the rest of its process group, so that no worker outlives
    its master. Returns ``False`` when SIGKILL was needed (uWSGI ignores a SIGTERM that arrives while it
    is still starting)."""
    graceful = True
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            graceful = False
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(5)
    _signal_group(proc.pid, signal.SIGKILL)  # any worker left behind by a master that died first
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return graceful


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
