"""Bad input gets a clear error that names the setting and the fix, and nothing retries in a storm.

Settings that can never work (a port of 70000, a missing CA file) fail while the middleware is built,
so Gunicorn and uWSGI stop at once with the message instead of looping. Settings that are well formed
but wrong for *this* cluster (credentials, keyspace, an address nobody listens on, a protocol version the
node rejects) let the worker boot and serve: Cassandra routes answer 503 naming the cause.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.clients import call, free_port
from tests.support.drills import APP, drill_args, drill_env
from tests.support.servers import REPO, server_command, server_env
from tests.support.wait import stays
from wsgi_cassandra import CassandraMiddleware, ConfigurationError
from wsgi_cassandra.diagnose import is_permanent
from wsgi_cassandra.testing import CQLServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("CASSANDRA_CONTACT_POINTS")), reason="drives the embedded CQL test server"
)

RIGHT, WRONG = "right-Pa55-2b9e", "wrong-Pa55-7f3c"


def read_local(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    row = environ["cassandra.session"].execute("SELECT release_version FROM system.local").one()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [row.release_version.encode()]


@pytest.fixture
def secured() -> Iterator[CQLServer]:
    with CQLServer(credentials={"app": RIGHT}) as server:
        yield server


def middleware(server: CQLServer | None = None, **settings: Any) -> CassandraMiddleware:
    env = {} if server is None else {"CASSANDRA_CONTACT_POINTS": server.host, "CASSANDRA_PORT": str(server.port)}
    options: dict[str, Any] = {"warmer": "lazy", "health_path": "/healthz", "retry_max": 2.0, "warm_timeout": 5.0}
    return CassandraMiddleware(read_local, environ=env, **{**options, **settings})


@pytest.mark.integration
def test_wrong_credentials_are_named_and_not_retried_in_a_storm(secured: CQLServer) -> None:
    app = middleware(secured, username="app", password=WRONG)
    try:
        status, headers, body = call(app)
        assert status.startswith("503")
        assert b"authentication failed" in body
        assert b"CASSANDRA_PASSWORD" in body
        assert int(headers["Retry-After"]) >= 1
        assert "authentication failed" in app.holder.status()["last_error"]
        # A window of at least 3 s with 200 requests: permanent errors wait retry_max/2..retry_max (1-2 s)
        # between attempts and requests never trigger one: at most 1 + window/1 s attempts, whatever the
        # traffic (the window is measured, so a slow machine only makes it longer).
        opened = time.monotonic()
        before = secured.stats.requests.get("AUTH_RESPONSE", 0)

        def attempts() -> int:
            return int(secured.stats.requests.get("AUTH_RESPONSE", 0) - before)

        def no_storm() -> bool:
            return attempts() <= 1 + math.ceil(time.monotonic() - opened)

        for _ in range(200):
            assert call(app)[0].startswith("503")
        assert no_storm(), attempts()
        assert stays(no_storm, seconds=max(0.0, 3.0 - (time.monotonic() - opened))), attempts()
    finally:
        assert app.shutdown(timeout=5)


@pytest.mark.integration
def test_no_credentials_for_a_cluster_that_wants_them(secured: CQLServer) -> None:
    app = middleware(secured)
    try:
        status, _, body = call(app)
        assert status.startswith("503")
        assert b"requires authentication: set CASSANDRA_USERNAME and CASSANDRA_PASSWORD" in body
    finally:
        app.shutdown(timeout=5)


@pytest.mark.integration
def test_missing_keyspace_is_named() -> None:
    with CQLServer() as server:
        app = middleware(server, keyspace="no_such_keyspace")
        try:
            status, _, body = call(app)
            assert status.startswith("503")
            assert b"keyspace 'no_such_keyspace' does not exist" in body
            assert b"CASSANDRA_KEYSPACE" in body
            assert app.holder.unavailable().retry_after >= 1  # permanent: waits retry_max/2 or more
        finally:
            app.shutdown(timeout=5)


@pytest.mark.integration
def test_unreachable_contact_point_is_named_with_its_port() -> None:
    port = free_port()  # nothing listens there
    app = middleware(contact_points=["127.0.0.1"], port=port, connect_timeout=10.0)
    try:
        started = time.monotonic()
        status, headers, body = call(app)
        assert status.startswith("503")
        assert time.monotonic() - started < 5.0  # told when the refused attempt ended, not the connect timeout
        assert f"127.0.0.1:{port}: connection refused".encode() in body
        assert b"CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT" in body
        assert "Retry-After" in headers
        health = call(app, "/healthz")
        assert health[0].startswith("503")
        assert b"connection refused" in health[2]
    finally:
        app.shutdown(timeout=5)


@pytest.mark.integration
def test_protocol_version_the_node_rejects_is_named() -> None:
    # v5: every driver we support knows it (cassandra-driver's DSE versions are not in scylla-driver),
    # and a Cassandra 3.11 node refuses it unless the client asks for the beta.
    with CQLServer(release_version="3.11.17") as server:
        app = middleware(server, protocol_version=5)
        try:
            status, _, body = call(app)
            assert status.startswith("503")
            assert b"rejected the protocol version" in body
            assert b"CASSANDRA_PROTOCOL_VERSION" in body
        finally:
            app.shutdown(timeout=5)


def test_permanent_errors_are_classified() -> None:
    from cassandra.cluster import NoHostAvailable

    refused = NoHostAvailable("Unable to connect to any servers", {"h:1": ConnectionRefusedError(111, "refused")})
    keyspace = NoHostAvailable("Unable to connect to any servers using keyspace 'shop'", ["h"])
    assert not is_permanent(refused)
    assert is_permanent(keyspace)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        pytest.param("CASSANDRA_PORT", "70000", "a whole number from 1 to 65535", id="port-too-big"),
        pytest.param("CASSANDRA_PORT", "0", "a whole number from 1 to 65535", id="port-zero"),
        pytest.param("CASSANDRA_PORT", "cql", "a whole number from 1 to 65535", id="port-not-a-number"),
        pytest.param("CASSANDRA_PROTOCOL_VERSION", "7", "one of the versions", id="protocol-unknown"),
        pytest.param("CASSANDRA_PROTOCOL_VERSION", "v4", "one of the versions", id="protocol-not-a-number"),
        pytest.param("CASSANDRA_CONTACT_POINTS", "10.0.0.1:99999", "1 to 65535", id="contact-point-port"),
        pytest.param("CASSANDRA_SSL_CA", "/nonexistent/ca.pem", "does not exist", id="ca-missing"),
        pytest.param("CASSANDRA_SSL_CERT", "/nonexistent/client.pem", "does not exist", id="cert-missing"),
        pytest.param("WSGI_CASSANDRA_SHUTDOWN_TIMEOUT", "-1", "a positive number of seconds", id="shutdown-timeout"),
        pytest.param("WSGI_CASSANDRA_RETRY_MAX", "soon", "a positive number of seconds", id="retry-max"),
    ],
)
def test_bad_setting_fails_at_construction_naming_it(variable: str, value: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        CassandraMiddleware(read_local, warmer="lazy", environ={variable: value})
    message = str(raised.value)
    assert variable in message
    assert named in message


@pytest.mark.parametrize("variable", ["CASSANDRA_SSL_CA", "CASSANDRA_SSL_CERT"])
def test_tls_file_that_does_not_parse(variable: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError) as raised:
        CassandraMiddleware(read_local, warmer="lazy", environ={variable: str(garbage)})
    assert variable in str(raised.value)
    assert "cannot be loaded" in str(raised.value)


def test_tls_key_without_certificate(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("not a key")
    with pytest.raises(ConfigurationError, match=r"CASSANDRA_SSL_KEY is set without CASSANDRA_SSL_CERT"):
        CassandraMiddleware(read_local, warmer="lazy", environ={"CASSANDRA_SSL_KEY": str(key)})


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["gunicorn", "uwsgi"])
def test_server_with_an_impossible_setting_stops_at_once_saying_why(kind: str) -> None:
    """Not a crash loop: the app cannot be built, the server exits (non-zero) with the setting named."""
    env = drill_env(["127.0.0.1"], 9042, CASSANDRA_PORT="70000")
    command = server_command(kind, APP, free_port(), drill_args(kind))
    result = subprocess.run(
        command, check=False, cwd=REPO, env=server_env(env), capture_output=True, text=True, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "CASSANDRA_PORT = '70000' is not valid; accepted: a whole number from 1 to 65535" in output
    assert output.count("Booting worker") <= 2  # Gunicorn: each worker tried once, then the arbiter halts
