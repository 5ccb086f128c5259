"""uWSGI, as really run: every worker builds its own session after the fork, before its first request.

Each test starts a real ``uwsgi`` on 127.0.0.1 against the CQL test server and asserts on what the server
saw: STARTUP handshakes for exactly the number of workers *before* any HTTP request, none more while 200
requests are served, answers from sessions built in the pid that served them, rows read back, and every
connection closed once uWSGI stops (gracefully: the workers' ``uwsgi.atexit`` shuts the session down).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.support.clients import get
from tests.support.servers import (
    assert_replacement_warm,
    assert_warm_workers,
    at_least,
    handshakes_per_session,
    ready_pids,
    running,
    start,
    stop_and_check_closed,
)
from tests.support.wait import wait_until

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.target import Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

APP = "tests.apps.items:application"


@pytest.mark.parametrize(
    ("args", "master_serves"),
    [
        pytest.param(["--master", "--processes", "2", "--enable-threads"], False, id="master"),
        pytest.param(["--master", "--processes", "2", "--threads", "4"], False, id="master-threads"),
        pytest.param(["--master", "--processes", "2", "--lazy-apps"], False, id="lazy-apps"),
        # Without --master uwsgidecorators refuses to import; the warmer chains uwsgi.post_fork_hook, which
        # uWSGI calls in every worker, including worker 1: the process that started and loaded the app.
        pytest.param(["--processes", "2"], True, id="no-master"),
    ],
)
def test_each_worker_warm_before_first_request(
    cassandra: Target, keyspace: str, args: list[str], master_serves: bool
) -> None:
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("uwsgi", APP, *args, env=env) as server:
        served = assert_warm_workers(server, cassandra, per_session, workers=2, master_serves=master_serves)
        answer = server.get("/").json()
        assert answer["chosen"] == ["uwsgi", "lazy"]
        if "--lazy-apps" in args:
            assert all(pid != server.pid for pid in served)
            assert answer["loaded_in"] == answer["pid"], "--lazy-apps loads the app in the worker"
        elif not master_serves:
            assert answer["loaded_in"] == server.pid, "the app was loaded in the master, then forked"
        stop_and_check_closed(server, cassandra)
    if not master_serves:  # without a master, SIGTERM ends the workers without a graceful exit
        assert len(ready_pids(server.log())) == server.log().count("Cassandra cluster shut down")


def test_mules_are_skipped(cassandra: Target, keyspace: str) -> None:
    """Post-fork hooks also run in mules; they build no session unless asked (UWSGIWarmer(mules=True))."""
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("uwsgi", APP, "--master", "--processes", "1", "--mule", env=env) as server:
        assert_warm_workers(server, cassandra, per_session, workers=1)
        server.wait_log(r"uWSGI mule, not warming")
        assert cassandra.embedded.stats.startups == per_session
        stop_and_check_closed(server, cassandra)


def test_recycled_worker_comes_back_warm(cassandra: Target, keyspace: str) -> None:
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    stats = cassandra.embedded.stats
    # uWSGI recycles a worker only once it has lived --min-worker-lifetime seconds (10 by default).
    args = ["--master", "--processes", "1", "--max-requests", "20", "--min-worker-lifetime", "1"]
    with running("uwsgi", APP, *args, env=env) as server:
        stats.wait_for("startups", per_session, timeout=20, compare=at_least)
        first = server.get("/").json()

        def recycled() -> bool:
            get(server.port, "/ping")
            return first["pid"] not in server.worker_pids()

        # Once the worker has lived --min-worker-lifetime and served --max-requests, it exits and the master
        # forks a new one: ping until the first worker is gone (bounded), not a guessed number of times.
        wait_until(recycled, timeout=30, what="the first worker recycled")
        assert_replacement_warm(server, cassandra, per_session, first["pid"])
        stop_and_check_closed(server, cassandra)


def test_threads_disabled_is_a_clear_error_not_a_hang(cassandra: Target) -> None:
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE="ks")
    server = start("uwsgi", "tests.apps.no_threads:application", "--master", "--processes", "2", env=env)
    try:
        started = time.monotonic()
        server.process.wait(20)  # --need-app: no app, no server
        assert time.monotonic() - started < 20
        assert server.process.returncode != 0
        log = server.log()
        assert "ConfigurationError" in log
        assert "uWSGI runs with Python threads disabled" in log
        assert "--enable-threads" in log
        assert cassandra.embedded.stats.connections_opened == 0
    finally:
        server.stop()


def test_enable_threads_false_is_ignored_by_uwsgi_2_0_31(cassandra: Target, keyspace: str, tmp_path: Path) -> None:
    """What uWSGI 2.0.31 really does: threads are always on, so ``enable-threads = false`` still works."""
    per_session = handshakes_per_session(cassandra, keyspace)
    ini = tmp_path / "uwsgi.ini"
    ini.write_text("[uwsgi]\nenable-threads = false\n")
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("uwsgi", APP, "--master", "--processes", "1", "--ini", str(ini), env=env) as server:
        assert_warm_workers(server, cassandra, per_session, workers=1)
        stop_and_check_closed(server, cassandra)
