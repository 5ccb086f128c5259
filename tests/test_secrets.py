"""The password never shows: not in logs (every logger, the driver's included, at DEBUG), error messages,
``repr``, the health endpoint, 503 bodies or the WSGI environ -- checked in-process and under Gunicorn.
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.clients import call, get
from tests.support.drills import drill_env, drill_server, seed
from tests.support.wait import eventually, stays
from wsgi_cassandra import CassandraMiddleware, ConfigurationError
from wsgi_cassandra.testing import CQLServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("CASSANDRA_CONTACT_POINTS")), reason="drives the embedded CQL test server"
)

RIGHT = "right-S3cret-d41c"
WRONG = "wrong-S3cret-9a07"
SECRETS = (RIGHT, WRONG)


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for secret in SECRETS:
            assert secret.encode() not in data, f"password found in: {data[:300]!r}"


def dump_environ(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Touch the session (so the stand-in raises when none is ready), then show every environ value."""
    text = "\n".join(f"{key}={value!r}" for key, value in environ.items())
    environ["cassandra.session"].execute("SELECT release_version FROM system.local")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]


@pytest.fixture
def secured() -> Iterator[CQLServer]:
    with CQLServer(credentials={"app": RIGHT}) as server:
        yield server


def formatted(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)  # includes tracebacks


@pytest.mark.integration
def test_failing_auth_run_logs_and_shows_no_password(secured: CQLServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: ours and the driver's, everything
    env = {
        "CASSANDRA_CONTACT_POINTS": secured.host,
        "CASSANDRA_PORT": str(secured.port),
        "CASSANDRA_USERNAME": "app",
        "CASSANDRA_PASSWORD": WRONG,
    }
    app = CassandraMiddleware(dump_environ, warmer="lazy", health_path="/healthz", retry_max=0.2, environ=env)
    try:
        environ: dict[str, Any] = {}
        status, _, body = call(app, environ=environ)
        assert status.startswith("503")
        assert b"authentication failed" in body
        assert eventually(lambda: app.holder.status()["attempts"] >= 3, timeout=5)  # several failed attempts
        health = call(app, "/healthz")
        assert b"authentication failed" in health[2]
        assert_no_secret(
            body,
            health[2],
            repr(app),
            repr(app.settings),
            str(app.settings),
            repr(app.settings.password),
            str(app.holder.unavailable()),
            repr(app.holder.status()),
            repr(environ["cassandra.session"]),
            "\n".join(f"{key}={value!r}" for key, value in environ.items()),
        )
    finally:
        app.shutdown(timeout=5)
    log = formatted(caplog)
    assert "authentication failed" in log  # the run did log the failures...
    assert "Bad credentials" in log  # ...the driver's too, with tracebacks
    assert_no_secret(log)  # ...and never the password


@pytest.mark.integration
def test_connected_session_environ_and_debug_logs_hold_no_password(
    secured: CQLServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    password_file = tmp_path / "password"
    password_file.write_text(RIGHT + "\n")
    env = {
        "CASSANDRA_CONTACT_POINTS": secured.host,
        "CASSANDRA_PORT": str(secured.port),
        "CASSANDRA_USERNAME": "app",
        "CASSANDRA_PASSWORD_FILE": str(password_file),
    }
    app = CassandraMiddleware(dump_environ, warmer="lazy", health_path="/healthz", environ=env)
    try:
        environ: dict[str, Any] = {}
        status, _, body = call(app, environ=environ)
        assert status == "200 OK"  # the password from the file works
        health = call(app, "/healthz")
        assert health[0] == "200 OK"
        assert_no_secret(body, health[2], repr(app), repr(app.holder.current()), repr(environ))
    finally:
        app.shutdown(timeout=5)
    assert_no_secret(formatted(caplog))


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({"CASSANDRA_PASSWORD": RIGHT}, id="password-without-username"),
        pytest.param({"CASSANDRA_USERNAME": "app", "CASSANDRA_PASSWORD": ""}, id="empty-password"),
        pytest.param({"CASSANDRA_PASSWORD": RIGHT, "CASSANDRA_PASSWORD_FILE": "/x"}, id="both-sources"),
        pytest.param({"CASSANDRA_CONTACT_POINTS": f"app:{RIGHT}@127.0.0.1"}, id="credentials-in-contact-point"),
    ],
)
def test_configuration_errors_never_echo_the_password(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        CassandraMiddleware(dump_environ, warmer="lazy", environ=environ)
    assert_no_secret(str(raised.value), repr(raised.value))


@pytest.mark.integration
def test_gunicorn_failing_auth_logs_nothing_secret_and_does_not_storm(secured: CQLServer) -> None:
    seed([secured.host], secured.port, auth_provider=_auth("app", RIGHT))
    tries = auth_tries_per_connect(secured)
    env = drill_env(
        [secured.host],
        secured.port,
        CASSANDRA_USERNAME="app",
        CASSANDRA_PASSWORD=WRONG,
        WSGI_CASSANDRA_RETRY_MAX="2",
        DRILL_LOG_LEVEL="DEBUG",
    )
    with drill_server("gunicorn", env) as web:
        assert eventually(lambda: b"authentication failed" in get(web.port, "/read").body, timeout=10)
        # A window of at least 3 s with 90 requests: each of the 2 workers waits retry_max/2..retry_max (1-2 s)
        # between attempts whatever the traffic, so at most 1 + window/1 s attempts each, of `tries` each.
        opened = time.monotonic()
        before = secured.stats.requests.get("AUTH_RESPONSE", 0)

        def attempts() -> int:
            return int(secured.stats.requests.get("AUTH_RESPONSE", 0) - before)

        def no_storm() -> bool:
            return attempts() <= tries * 2 * (1 + math.ceil(time.monotonic() - opened))

        responses = [get(web.port, path) for path in ("/read", "/healthz", "/environ") for _ in range(30)]
        assert no_storm(), attempts()
        assert stays(no_storm, seconds=max(0.0, 3.0 - (time.monotonic() - opened))), attempts()
        assert {r.status for r in responses} == {503, 200}  # /environ does not touch Cassandra
        assert_no_secret(*(r.body for r in responses), *(repr(r.headers) for r in responses))
        log = web.log()
    assert "authentication failed" in log
    assert "DEBUG" in log  # the driver's debug output was captured too
    assert_no_secret(log)


def auth_tries_per_connect(server: CQLServer) -> int:
    """How many AUTH_RESPONSEs one failing connect of the installed driver sends: 1 for cassandra-driver,
    2 for scylla-driver (it tries every host again after re-resolving their names)."""
    from cassandra.cluster import Cluster, NoHostAvailable

    before = server.stats.requests.get("AUTH_RESPONSE", 0)
    cluster = Cluster([server.host], port=server.port, auth_provider=_auth("app", WRONG))
    with cluster, pytest.raises(NoHostAvailable):
        cluster.connect()
    return max(1, server.stats.requests.get("AUTH_RESPONSE", 0) - before)


def _auth(username: str, password: str) -> Any:
    from cassandra.auth import PlainTextAuthProvider

    return PlainTextAuthProvider(username, password)
