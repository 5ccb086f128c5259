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


class _Client:
    """Sends tasks to the worker and reads their results, over the worker's folders.

    kombu's filesystem transport creates a message file before it writes it, and a worker polling the same
    folder can read it empty (and crash on the JSON). So messages are written to a staging folder and
    moved into the worker's queue folder only once complete (``os.replace`` is atomic).
    """

    def __init__(self, folder: Path) -> None:
        from celery import Celery

        self.staging, self.queue = folder / "staging", folder / "queue"
        self.staging.mkdir()
        self.app = Celery(
            "client",
            broker="filesystem://",
            backend=f"file://{folder / 'results'}",
            broker_transport_options={
                "data_folder_in": str(self.staging),
                "data_folder_out": str(self.staging),
                "processed_folder": str(folder / "processed"),
                "control_folder": str(folder / "control"),
            },
        )

    def send(self, name: str) -> Any:
        result = self.app.send_task(name)  # returns once the message file is written and closed
        for message in self.staging.iterdir():
            os.replace(message, self.queue / message.name)
        return result


def test_prefork_pool_processes_each_read_rows_through_their_own_session(
    cassandra: Target, keyspace: str, tmp_path: Path
) -> None:
    if importlib.util.find_spec("celery") is None:
        pytest.skip("needs celery (pip install -e '.[test]')")
    stats = cassandra.embedded.stats
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace, WSGI_CASSANDRA_TEST_CELERY_DIR=str(tmp_path))
    for sub in ("queue", "processed", "results", "control"):
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

            client = _Client(tmp_path)
            seen: dict[int, dict[str, Any]] = {}
            for _ in range(20):  # bounded: until both pool processes have run tasks
                results = [client.send("tests.apps.celery_app.who") for _ in range(10)]
                for result in results:
                    answer = result.get(timeout=30)
                    assert answer["rows"] == NAMES
                    assert answer["built_pid"] == answer["pid"], "each task used its own process's session"
                    seen[answer["pid"]] = answer
                if len(seen) == 2:
                    break
            assert set(seen) == set(pool), log_path.read_text()
            names = client.send("celery_tasks.item_names").get(timeout=30)
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
