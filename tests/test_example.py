"""The web.py example under real Gunicorn and uWSGI masters with two workers each, against the test target:
the page shows the rows from Cassandra, each worker logs its session becoming ready, and stopping the
server leaves no worker behind."""

from __future__ import annotations

import importlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi"])
def test_example_serves_rows_from_cassandra(server: str, launch: Any, seeded: dict[str, str], tmp_path: Path) -> None:
    web = launch.start_web(server, seeded, log=tmp_path / f"{server}.log")
    try:
        if server == "gunicorn":  # its post_worker_init hook warms each worker before it accepts a request
            assert len(launch.wait_for_workers(web, count=2, timeout=20.0)) == 2, web.log_text()
        pages = [launch.get(web.host, web.port, "/") for _ in range(4)]
        health = launch.get(web.host, web.port, "/healthz")
    finally:
        launch.stop(web.proc)
    log = web.log_text()

    for status, body, _elapsed in pages:
        assert status == 200, body
        assert "3 greetings from Cassandra, read with a prepared statement" in body
        assert body.splitlines()[-3:] == GREETINGS
    assert health[0] == 200
    assert '"state": "ready"' in health[1]
    served = {int(m) for _, body, _ in pages for m in re.findall(r"worker pid (\d+)", body)}
    assert served
    assert served <= set(web.ready_workers()), log  # each serving worker logged "session ready in X ms"
    assert web.proc.returncode is not None
    assert all(gone(pid) for pid in served), f"worker(s) outlived the {server} master"
