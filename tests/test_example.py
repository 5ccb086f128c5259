"""The web.py example under real Gunicorn and uWSGI masters with two workers each, against the test target:
the page shows the rows from Cassandra, each worker logs its session becoming ready, and stopping the
server leaves no worker behind."""

from __future__ import annotations

import importlib
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.servers import children_of
from tests.support.wait import eventually

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

    from tests.support.target import Target

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "webpy_app"
GREETINGS = [
    "  1. Hello from Cassandra!",
    "  2. This session was built after the fork, before the first request.",
    "  3. Every worker prepared this query once, not once per request.",
]


@pytest.fixture
def launch(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return importlib.import_module("launch")


@pytest.fixture
def seeded(cassandra: Target, launch: ModuleType) -> Iterator[dict[str, str]]:
    """The example's schema on the target; on a real cluster, dropped again if this test created it."""
    env = cassandra.subprocess_env()
    with cassandra.cluster() as cluster:
        cluster.connect()
        existed = "wsgi_cassandra_example" in cluster.metadata.keyspaces
    launch.seed_schema(env)
    yield env
    if cassandra.server is None and not existed:
        with cassandra.cluster() as cluster:
            cluster.connect().execute("DROP KEYSPACE IF EXISTS wsgi_cassandra_example")


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait (bounded) until process ``pid`` no longer exists."""

    def missing() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    return bool(eventually(missing, timeout=timeout))


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi"])
def test_example_serves_rows_from_cassandra(server: str, launch: Any, seeded: dict[str, str], tmp_path: Path) -> None:
    web = launch.start_web(server, seeded, log=tmp_path / f"{server}.log")
    try:
        # Gunicorn's post_worker_init / uWSGI's @postfork: both workers warm before any request is sent.
        warmed = launch.wait_for_workers(web, count=2, timeout=20.0)
        workers = children_of(web.proc.pid)
        pages = [launch.get(web.host, web.port, "/") for _ in range(4)]
        health = launch.get(web.host, web.port, "/healthz")
    finally:
        graceful = launch.stop(web.proc)
    log = web.log_text()

    for status, body, _elapsed in pages:
        assert status == 200, body
        assert "3 greetings from Cassandra, read with a prepared statement" in body
        assert body.splitlines()[-3:] == GREETINGS
    assert health[0] == 200
    assert '"state": "ready"' in health[1]
    assert len(warmed) == 2, log
    assert set(warmed) == workers, log  # the master's two children, each logged "session ready in X ms"
    served = {int(m) for _, body, _ in pages for m in re.findall(r"worker pid (\d+)", body)}
    assert served, pages
    assert served <= workers
    assert graceful, log
    assert all(gone(pid) for pid in workers), f"worker(s) outlived the {server} master"


def test_serve_on_a_port_in_use_says_so_and_starts_nothing(launch: Any) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "serve.py"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"127.0.0.1:{port} is already in use (another server?); choose another: --port {port + 1}" in result.stdout
    assert "test server" not in result.stdout  # nothing was started


@pytest.mark.parametrize(
    ("server", "signum"),
    [
        pytest.param("gunicorn", signal.SIGINT, id="gunicorn-ctrl-c"),
        pytest.param("uwsgi", signal.SIGTERM, id="uwsgi-term"),
    ],
)
def test_serve_starts_everything_and_a_signal_stops_everything(server: str, signum: int, launch: Any) -> None:
    """``python3 dev.py serve`` on a fresh machine: its own test server, the schema, the server; then no orphans."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "WSGI_CASSANDRA_"))}
    port = launch.free_port()
    serve = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "serve.py"), "--server", server, "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert serve.stdout is not None
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        with selectors.DefaultSelector() as selector:
            selector.register(serve.stdout, selectors.EVENT_READ)
            while "serves the example" not in "".join(output) and time.monotonic() < deadline:
                if selector.select(1.0):
                    line = serve.stdout.readline()
                    if not line:
                        break
                    output.append(line)
        status, body, _ = launch.get("127.0.0.1", port, "/")
        serve.send_signal(signum)
        rest, _ = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate(timeout=10)
    text = "".join(output) + rest

    assert status == 200, text
    assert body.splitlines()[-3:] == GREETINGS
    assert serve.returncode == 0, text
    assert f"{signal.Signals(signum).name}: stopping" in text
    assert f"{server} stopped" in text
    assert "CQL test server stopped" in text
    pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", text)]  # the test server and the master
    pids += [int(p) for p in re.findall(r"worker pid (\d+)", body)]
    assert len(pids) == 3
    assert all(gone(pid) for pid in pids), text
