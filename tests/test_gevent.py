"""Green workers, as really run: Gunicorn ``-k gevent`` (and ``-k eventlet`` where Gunicorn still has it)
and uWSGI ``--gevent``.

These servers monkey-patch in each worker after the fork, so the session must be built after the patching,
with the driver's matching connection class, whenever the driver was first imported. Each test starts a
real server with 2 workers against the CQL test server and asserts what the server saw: one session's
handshakes per worker before any request, none while 200 requests are served, every answer from a
session built in the pid that served it with the gevent/eventlet connection class, the rows read back,
and every connection closed after the stop.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

import pytest

from tests.support.servers import (
    assert_warm_workers,
    free_port,
    get_many,
    handshakes_per_session,
    running,
    stop_and_check_closed,
)
from wsgi_cassandra.reactors import GREEN_REACTORS, driver_version

if TYPE_CHECKING:
    from tests.support.target import Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

APP = "tests.apps.items:application"
EARLY_DRIVER_APP = "tests.apps.early_driver:application"


def _needs(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        where = (
            "a venv of its own with Gunicorn < 26: python3 dev.py test runs it in .venv-eventlet (docs/servers.md)"
            if module == "eventlet"
            else "pip install -e '.[test]'"
        )
        pytest.skip(f"needs {why}: {where}")


def _needs_reactor(green: str) -> None:
    module, name = GREEN_REACTORS[green]
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"needs a driver that ships {module}.{name} (cassandra-driver < 3.31; installed: {driver_version()}); "
            "test_gunicorn_gevent_without_the_reactor_refuses_to_start covers this driver"
        )


def _gunicorn_has_eventlet_worker() -> bool:
    return importlib.util.find_spec("gunicorn.workers.geventlet") is not None


def _assert_green(server: object, cassandra: Target, keyspace: str, per_session: int, connection: str) -> None:
    assert_warm_workers(server, cassandra, per_session, workers=2)  # type: ignore[arg-type]
    answers = [reply.json() for reply in get_many(server, "/", 20)]  # type: ignore[arg-type]
    assert {answer["connection_class"] for answer in answers} == {connection}


@pytest.mark.parametrize(
    ("app", "args"),
    [
        pytest.param(APP, [], id="no-hooks"),
        pytest.param(APP, ["-c", "python:wsgi_cassandra.gunicorn"], id="hooks-module"),
        pytest.param(APP, ["--preload"], id="preload"),
        pytest.param(APP, ["--preload", "-c", "python:wsgi_cassandra.gunicorn"], id="preload-hooks-module"),
    ],
)
def test_gunicorn_gevent_workers(cassandra: Target, keyspace: str, app: str, args: list[str]) -> None:
    _needs("gevent", "gevent")
    _needs_reactor("gevent")
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("gunicorn", app, "--workers", "2", "-k", "gevent", *args, env=env) as server:
        _assert_green(server, cassandra, keyspace, per_session, "GeventConnection")
        stop_and_check_closed(server, cassandra)
    assert "Cassandra cluster shut down" in server.log(), "worker_exit closed the session"


def test_gunicorn_gevent_driver_imported_before_patching(cassandra: Target, keyspace: str) -> None:
    """``--preload`` with an app that imports the driver at module level: the driver's default class is
    libev, fixed before the worker patches; each worker still builds its session with GeventConnection.

    Closing it at worker exit is bounded by ``shutdown_timeout`` but not graceful here (the driver's
    threads were set up before the patching); the process exit closes the connections, which is asserted.
    """
    _needs("gevent", "gevent")
    _needs_reactor("gevent")
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace, WSGI_CASSANDRA_SHUTDOWN_TIMEOUT="1")
    args = ["--workers", "2", "-k", "gevent", "--preload"]
    with running("gunicorn", EARLY_DRIVER_APP, *args, env=env) as server:
        _assert_green(server, cassandra, keyspace, per_session, "GeventConnection")
        stop_and_check_closed(server, cassandra)


@pytest.mark.parametrize(
    "args", [pytest.param([], id="no-hooks"), pytest.param(["-c", "python:wsgi_cassandra.gunicorn"], id="hooks")]
)
def test_gunicorn_eventlet_workers(cassandra: Target, keyspace: str, args: list[str]) -> None:
    _needs("eventlet", "eventlet")
    _needs_reactor("eventlet")
    if not _gunicorn_has_eventlet_worker():
        from importlib.metadata import version

        pytest.skip(
            f"needs Gunicorn < 26 for -k eventlet (Gunicorn 26 removed its eventlet worker; installed: "
            f"{version('gunicorn')}): python3 dev.py test runs it in .venv-eventlet (docs/servers.md)"
        )
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("gunicorn", APP, "--workers", "2", "-k", "eventlet", *args, env=env) as server:
        _assert_green(server, cassandra, keyspace, per_session, "EventletConnection")
        stop_and_check_closed(server, cassandra)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--gevent-monkey-patch"], id="monkey-patch"),
        pytest.param(["--gevent-early-monkey-patch"], id="early-monkey-patch"),
        pytest.param(["--gevent-monkey-patch", "--lazy-apps"], id="monkey-patch-lazy-apps"),
    ],
)
def test_uwsgi_gevent(cassandra: Target, keyspace: str, args: list[str]) -> None:
    _needs("gevent", "gevent")
    _needs_reactor("gevent")
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    uwsgi_args = ["--master", "--processes", "2", "--gevent", "20", *args]
    with running("uwsgi", APP, *uwsgi_args, env=env) as server:
        _assert_green(server, cassandra, keyspace, per_session, "GeventConnection")
        stop_and_check_closed(server, cassandra)
    assert "Cassandra cluster shut down" in server.log(), "the worker closed its session at exit"


def test_gunicorn_gevent_without_the_reactor_refuses_to_start(cassandra: Target) -> None:
    """A driver without the gevent reactor (cassandra-driver 3.31+, recent scylla-driver): Gunicorn does not
    start, and says what to do, instead of workers that would hang under gevent's hub."""
    _needs("gevent", "gevent")
    module, _ = GREEN_REACTORS["gevent"]
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"needs a driver without {module} (cassandra-driver 3.31+); installed: {driver_version()}")
    env = cassandra.subprocess_env(CASSANDRA_PORT=str(free_port()))
    with running("gunicorn", APP, "--workers", "2", "-k", "gevent", "--preload", env=env) as server:
        code = server.process.wait(30)
    assert code != 0
    assert "cassandra-driver<3.31" in server.log()
    assert "gthread" in server.log()


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param(["-m"], "LibevConnection (not monkey-patched", id="plain"),
        pytest.param(
            ["-m", "gevent.monkey", "--module"],
            "GeventConnection (this process is monkey-patched by gevent",
            id="gevent",
        ),
    ],
)
def test_check_names_the_connection_class(cassandra: Target, prefix: list[str], expected: str) -> None:
    """``python -m gevent.monkey --module wsgi_cassandra check`` shows what a gevent worker will use."""
    import subprocess
    import sys

    from tests.support.servers import server_env

    _needs("gevent", "gevent")
    if "Gevent" in expected:
        _needs_reactor("gevent")
    else:
        _needs("cassandra.io.libevwrapper", "the driver's libev extension")
    env = server_env(cassandra.subprocess_env())
    result = subprocess.run(
        [sys.executable, *prefix, "wsgi_cassandra", "check"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "connection class" in line)
    assert expected in line
