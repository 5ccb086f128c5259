"""The Celery recipe (docs/recipes/celery_tasks.py), as really run: ``celery worker --pool prefork
--concurrency 2`` with kombu's filesystem transport as the broker and a ``file://`` result backend (no
server of any kind besides the CQL test server).

Asserted at the CQL test server: both pool processes connect right after the fork, before any task (one
session's handshakes each, none from the main process); tasks read rows, each in a pool process through
the session that process built; no connection is opened while tasks run; and after the worker stops,
every connection is closed -- by ``worker_process_shutdown``, since pool processes end with ``os._exit``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.servers import BIN, REPO, at_least, children_of, handshakes_per_session, server_env, wait_until

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.target import Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NAMES = ["item-0", "item-1", "item-2"]


def _client(folder: Path) -> Any:
    """A Celery app that only sends tasks and reads results, over the same folders as the worker."""
    from celery import Celery

    return Celery(
        "client",
        broker="filesystem://",
        backend=f"file://{folder / 'results'}",
        broker_transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "polling_interval": 0.05,
        },
    )


def test_prefork_pool_processes_each_read_rows_through_their_own_session(
    cassandra: Target, keyspace: str, tmp_path: Path
) -> None:
    if importlib.util.find_spec("celery") is None:
        pytest.skip("needs celery (pip install -e '.[test]')")
    stats = cassandra.embedded.stats
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace, WSGI_CASSANDRA_TEST_CELERY_DIR=str(tmp_path))
    for sub in ("queue", "processed", "results"):
        (tmp_path / sub).mkdir()
    command = [
        str(BIN / "celery"),
        "-A",
        "tests.apps.celery_app",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        "2",
        "-O",
        "fair",
        "--loglevel",
        "DEBUG",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--hostname",
        f"test-{os.getpid()}@localhost",
    ]
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(
            command,
            cwd=REPO,
            env=server_env(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            pool = wait_until(lambda: len(children_of(worker.pid)) >= 2 and children_of(worker.pid), timeout=30)
            stats.wait_for("startups", 2 * per_session, timeout=30, compare=at_least)
            assert stats.startups == 2 * per_session, "one session per pool process, before any task"

            client = _client(tmp_path)
            seen: dict[int, dict[str, Any]] = {}
            for _ in range(20):  # bounded: until both pool processes have run tasks
                results = [client.send_task("tests.apps.celery_app.who") for _ in range(10)]
                for result in results:
                    answer = result.get(timeout=30)
                    assert answer["rows"] == NAMES
                    assert answer["built_pid"] == answer["pid"], "each task used its own process's session"
                    seen[answer["pid"]] = answer
                if len(seen) == 2:
                    break
            assert set(seen) == set(pool), log_path.read_text()
            names = client.send_task("celery_tasks.item_names").get(timeout=30)
            assert names == NAMES
            assert stats.startups == 2 * per_session, "no connection opened while tasks ran"
        finally:
            with contextlib.suppress(ProcessLookupError):
                worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            finally:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(worker.pid, signal.SIGKILL)
    stats.wait_for("connections_open", 0, timeout=5)
    text = log_path.read_text()
    assert text.count("Cassandra cluster shut down") == 2, "worker_process_shutdown closed each session"
