"""TLS against the CQL test server serving certificates this test creates (trustme: a CA, node certs).

Hostname checking is on by default, so a certificate for another name fails; so does a CA that did not
sign the node's certificate. Either way the worker serves, and the 503 body, the health endpoint and
``last_error`` say it is a certificate problem and which setting fixes it.
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.clients import call
from tests.support.drills import drill_env, drill_server, seed
from wsgi_cassandra import CassandraMiddleware
from wsgi_cassandra.testing import CQLServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

trustme = pytest.importorskip("trustme")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(os.environ.get("CASSANDRA_CONTACT_POINTS")), reason="drives the embedded CQL test server"),
]


def read_local(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    row = environ["cassandra.session"].execute("SELECT release_version FROM system.local").one()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [row.release_version.encode()]


@pytest.fixture
def ca() -> Any:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: Any, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def serving(ca: Any, *names: str, client_ca: Any = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    if client_ca is not None:  # require a client certificate signed by client_ca
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.fixture
def tls_server(ca: Any) -> Iterator[CQLServer]:
    with CQLServer(ssl_context=serving(ca, "127.0.0.1")) as server:
        yield server


def middleware(server: CQLServer, **settings: Any) -> CassandraMiddleware:
    env = {"CASSANDRA_CONTACT_POINTS": server.host, "CASSANDRA_PORT": str(server.port)}
    options: dict[str, Any] = {"warmer": "lazy", "health_path": "/healthz", "connect_timeout": 2.0, "retry_max": 2.0}
    return CassandraMiddleware(read_local, environ=env, **{**options, **settings})


def test_tls_with_our_ca_reads_rows_and_checks_hostnames_by_default(tls_server: CQLServer, ca_file: str) -> None:
    app = middleware(tls_server, ssl_ca=ca_file)
    try:
        assert app.settings.ssl_check_hostname is True
        status, _, body = call(app)
        assert status == "200 OK"
        assert body == tls_server.release_version.encode()
        connected = app.holder.current()
        assert connected is not None
        assert connected.cluster.ssl_context.check_hostname is True
    finally:
        assert app.shutdown(timeout=5)


def test_certificate_for_another_name_fails_clearly(ca: Any, ca_file: str) -> None:
    with CQLServer(ssl_context=serving(ca, "cassandra.example.org")) as server:
        app = middleware(server, ssl_ca=ca_file)
        try:
            status, _, body = call(app)
            assert status.startswith("503")
            assert b"TLS certificate does not match the node's address" in body
            assert b"CASSANDRA_SSL_CHECK_HOSTNAME" in body
            assert "TLS certificate does not match" in app.holder.status()["last_error"]
        finally:
            app.shutdown(timeout=5)
        relaxed = middleware(server, ssl_ca=ca_file, ssl_check_hostname=False)
        try:
            assert call(relaxed)[0] == "200 OK"  # the same node, once the name check is off on purpose
        finally:
            relaxed.shutdown(timeout=5)


def test_wrong_ca_fails_clearly_in_the_503_and_the_health_endpoint(tls_server: CQLServer, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    app = middleware(tls_server, ssl_ca=str(other))
    try:
        status, _, body = call(app)
        assert status.startswith("503")
        assert b"TLS certificate not trusted" in body
        assert b"CASSANDRA_SSL_CA" in body
        health_status, _, health = call(app, "/healthz")
        assert health_status.startswith("503")
        assert b"TLS certificate not trusted" in health
    finally:
        app.shutdown(timeout=5)


def test_tls_client_against_a_plain_node_says_handshake(ca_file: str) -> None:
    with CQLServer() as server:
        app = middleware(server, ssl_ca=ca_file)
        try:
            status, _, body = call(app)
            assert status.startswith("503")
            assert b"TLS handshake failed" in body
        finally:
            app.shutdown(timeout=5)


def test_plain_client_against_a_tls_node_hints_at_tls(tls_server: CQLServer) -> None:
    app = middleware(tls_server, connect_timeout=1.0)
    try:
        status, _, body = call(app)
        assert status.startswith("503")
        # The node hangs up on the plaintext frame; cassandra-driver 3.29 reports that as a connect timeout,
        # scylla-driver as a connection closed by the server: each diagnosis points at TLS.
        assert b"no answer in time" in body or b"closed the connection during the handshake" in body
        assert b"CASSANDRA_SSL" in body
    finally:
        app.shutdown(timeout=5)


def test_client_certificate_when_the_node_requires_one(ca: Any, ca_file: str, tmp_path: Path) -> None:
    client_ca = trustme.CA()
    client = client_ca.issue_cert("wsgi-cassandra-client")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    with CQLServer(ssl_context=serving(ca, "127.0.0.1", client_ca=client_ca)) as server:
        with_cert = middleware(server, ssl_ca=ca_file, ssl_cert=str(cert), ssl_key=str(key))
        without = middleware(server, ssl_ca=ca_file)
        try:
            assert call(with_cert)[0] == "200 OK"
            status, _, body = call(without)
            assert status.startswith("503")
            assert b"TLS" in body
        finally:
            with_cert.shutdown(timeout=5)
            without.shutdown(timeout=5)


def test_gunicorn_workers_over_tls(tls_server: CQLServer, ca: Any, ca_file: str) -> None:
    client = ssl.create_default_context(cafile=ca_file)
    seed([tls_server.host], tls_server.port, ssl_context=client)
    env = drill_env([tls_server.host], tls_server.port, CASSANDRA_SSL_CA=ca_file)
    with drill_server("gunicorn", env) as web:
        replies = web.every_worker("/read?4", timeout=30)  # each worker read over TLS, whichever answers
        assert [reply.json()["v"] for reply in replies.values()] == ["item-4", "item-4"]
