"""What a Gunicorn operator reads: one true line per worker when Cassandra is down, and the library's
"session ready" lines in Gunicorn's own error log when the config module ``wsgi_cassandra.gunicorn`` is
used by an app that configured no logging."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from tests.support.servers import free_port, running

if TYPE_CHECKING:
    from tests.support.target import Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

HOOKS = "python:wsgi_cassandra.gunicorn"
NOT_READY = r"pid (\d+): serving without a Cassandra session for now: (.*)"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-c", HOOKS], id="hooks-module"),
        pytest.param([], id="no-hooks"),
        pytest.param(["--preload", "-c", HOOKS], id="preload-hooks-module"),
    ],
)
def test_cassandra_down_one_true_line_per_worker(cassandra: Target, args: list[str]) -> None:
    """Cassandra down: each worker says once what happened (the attempt failed, the next one in N s);
    not "not ready within 10 s" after 0.3 s, and not twice (warmer and post_worker_init)."""
    env = cassandra.subprocess_env(
        CASSANDRA_CONTACT_POINTS="127.0.0.1",
        CASSANDRA_PORT=str(free_port()),  # nothing listens: every attempt is refused at once
        CASSANDRA_KEYSPACE="nowhere",
        WSGI_CASSANDRA_WARM_TIMEOUT="10",
    )
    with running("gunicorn", "tests.apps.items:application", "--workers", "2", *args, env=env) as server:
        server.wait_log(NOT_READY, count=2, timeout=20)
        assert server.wait_http("/ping", timeout=15).status == 200
        workers = server.worker_pids()
    # Stopped: every worker has run its post_worker_init (which precedes serving), so any second line is here.
    text = server.log()
    lines = re.findall(NOT_READY, text)
    per_pid = Counter(int(pid) for pid, _ in lines)
    assert set(per_pid) == workers, text
    assert set(per_pid.values()) == {1}, text
    for _, reason in lines:
        assert re.match(r"connect attempt 1 failed \(.*connection refused.*\); retrying in \d+\.\d s", reason), reason
    assert "not ready within" not in text


def test_hooks_module_shows_ready_lines_in_gunicorn_error_log(cassandra: Target, keyspace: str) -> None:
    """An app with no logging of its own: the hooks route the library's INFO lines to Gunicorn's error log."""
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    args = ["--workers", "2", "-c", HOOKS]
    ready = r"\[(\d+)\] \[INFO\] pid (\d+): Cassandra session ready in \d+ ms"
    with running("gunicorn", "tests.apps.plain:application", *args, env=env) as server:
        found = server.wait_log(ready, count=2, timeout=20)
        assert server.get("/").json()["rows"] == [[0, "item-0"], [1, "item-1"], [2, "item-2"]]
        workers = server.worker_pids()
    assert {int(logged_by) for logged_by, _ in found} == workers
    assert all(logged_by == pid for logged_by, pid in found)
    assert len(re.findall(ready, server.log())) == 2, "each line once"
    assert "DEBUG" not in server.log(), "INFO and above only, as Gunicorn's --log-level allows"


def test_without_hooks_module_library_lines_stay_out_of_gunicorn_log(cassandra: Target, keyspace: str) -> None:
    """Routing is the hooks module's doing: a plain ``gunicorn app`` shows only what the app configured."""
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("gunicorn", "tests.apps.plain:application", "--workers", "1", env=env) as server:
        assert server.wait_http("/", timeout=20).status == 200
    assert "Cassandra session ready" not in server.log()
