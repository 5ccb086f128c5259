"""The unmodified driver (default settings, libev reactor) against CQLServer, as against a Cassandra node."""

from __future__ import annotations

import gc
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings

import pytest
from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable
from cassandra.query import BatchStatement, SimpleStatement

from tests.support.clients import driver, refused_versions
from wsgi_cassandra.testing import CQLServer, CQLServerError

pytestmark = pytest.mark.integration

KEYSPACE = "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
TABLE = "CREATE TABLE ks.kv (k text PRIMARY KEY, v text)"


@pytest.mark.parametrize(
    ("release", "requested", "negotiated"),
    [
        pytest.param("4.1.5", None, 5, id="4.x-default-v5"),
        pytest.param("3.11.17", None, 4, id="3.11-default-v4"),
        pytest.param("4.1.5", 4, 4, id="explicit-v4"),
        pytest.param("4.1.5", 3, 3, id="explicit-v3"),
        pytest.param("3.11.17", 3, 3, id="3.11-explicit-v3"),
    ],
)
def test_driver_negotiates_the_version_a_real_node_would(release: str, requested: int | None, negotiated: int) -> None:
    options = {} if requested is None else {"protocol_version": requested}
    with CQLServer(release_version=release) as server, driver(server, **options) as cluster:
        session = cluster.connect()
        assert cluster.protocol_version == negotiated
        row = session.execute("SELECT release_version FROM system.local").one()
        assert row.release_version == release


@pytest.mark.parametrize("version", [pytest.param(None, id="v5"), pytest.param(4, id="v4"), pytest.param(3, id="v3")])
def test_prepared_write_then_read_round_trips(version: int | None) -> None:
    options = {} if version is None else {"protocol_version": version}
    with CQLServer() as server, driver(server, **options) as cluster:
        session = cluster.connect()
        session.execute(KEYSPACE)
        session.execute(TABLE)
        session.execute("USE ks")
        insert = session.prepare("INSERT INTO kv (k, v) VALUES (?, ?)")
        select = session.prepare("SELECT v FROM kv WHERE k = ?")
        for i in range(20):
            session.execute(insert, (f"key-{i}", f"value-{i}"))
        assert session.execute(select, ("key-7",)).one().v == "value-7"
        assert session.execute(select, ("missing",)).one() is None
        requests = server.stats.requests
        assert requests["PREPARE"] >= 2
        assert requests["EXECUTE"] >= 22


def test_each_connection_does_one_startup_and_none_leak_after_shutdown() -> None:
    with CQLServer() as server:
        with driver(server) as cluster:
            cluster.connect().execute("SELECT release_version FROM system.local")
            facts = server.stats.snapshot()
            # cassandra-driver first tries DSE_V2 and DSE_V1 (refused, as by a real node), then v5 connects;
            # scylla-driver starts at v5.
            assert facts.protocol_errors == refused_versions()
            assert facts.startups == facts.connections_opened - facts.protocol_errors
            assert facts.startups == 2  # control connection + one pooled connection
            assert all(host == "127.0.0.1" for host, _ in facts.client_addresses)
        assert server.stats.wait_for("connections_open", 0, timeout=5) == 0


def test_password_authenticator_accepts_the_right_credentials() -> None:
    with CQLServer(credentials={"alice": "s3cret"}) as server:
        auth = PlainTextAuthProvider(username="alice", password="s3cret")
        with driver(server, auth_provider=auth) as cluster:
            cluster.connect().execute("SELECT release_version FROM system.local")
        assert server.stats.snapshot().authentications == 2


def test_bad_credentials_raise_authentication_failed(caplog: pytest.LogCaptureFixture) -> None:
    with CQLServer(credentials={"alice": "s3cret"}) as server:
        auth = PlainTextAuthProvider(username="alice", password="wrong-password")
        with driver(server, auth_provider=auth) as cluster, pytest.raises(NoHostAvailable) as info:
            cluster.connect()
        (error,) = info.value.errors.values()
        assert isinstance(error, AuthenticationFailed)
        assert "Provided username alice and/or password are incorrect" in str(error)
        assert "wrong-password" not in caplog.text


def test_no_credentials_against_an_authenticating_node_fails() -> None:
    with CQLServer(credentials={"alice": "s3cret"}) as server:
        with driver(server) as cluster, pytest.raises(NoHostAvailable) as info:
            cluster.connect()
        (error,) = info.value.errors.values()
        assert isinstance(error, AuthenticationFailed)


def test_schema_change_is_answered_and_the_driver_reaches_schema_agreement() -> None:
    with CQLServer() as server, driver(server) as cluster:
        session = cluster.connect()
        result = session.execute(KEYSPACE)
        assert result.response_future.is_schema_agreed
        assert "ks" in cluster.metadata.keyspaces


def test_stop_closes_every_connection_and_frees_the_port() -> None:
    server = CQLServer().start()
    try:
        with driver(server) as cluster:
            # Keep the session: a dropped Session is shut down by its __del__ at the next garbage collection,
            # which closes the pool connection whenever the collector happens to run.
            session = cluster.connect()
            server.stats.wait_for("connections_open", 2, timeout=5)
            server.stop()
            assert server.stats.connections_open == 0
            del session
        with pytest.raises(ConnectionRefusedError):  # nothing listens any more
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        server.start()  # and it starts again on the same port
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
    finally:
        server.stop()


def test_stop_racing_new_connections_closes_every_accepted_socket() -> None:
    """Stop while clients are still being accepted: no server socket is left for the garbage collector."""
    for _ in range(30):
        server = CQLServer().start()
        clients = [socket.create_connection((server.host, server.port), timeout=5) for _ in range(5)]
        server.stop()
        assert server.stats.connections_open == 0
        for client in clients:
            client.close()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gc.collect()
        assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_server_listens_on_any_loopback_address() -> None:
    with CQLServer("127.0.0.2") as server, driver(server) as cluster:
        cluster.connect().execute("SELECT release_version FROM system.local")
        assert server.contact_point == f"127.0.0.2:{server.port}"


def test_bad_options_fail_at_construction() -> None:
    with pytest.raises(CQLServerError, match="port"):
        CQLServer(port=70000)
    with pytest.raises(CQLServerError, match="host"):
        CQLServer("localhost-ish")


def test_fixture_gives_a_started_server(cql_server: CQLServer) -> None:
    with driver(cql_server) as cluster:
        assert cluster.connect().execute("SELECT release_version FROM system.local").one()
    assert cql_server.running


def test_session_fixture_is_reset_between_tests(cql_server_session: CQLServer) -> None:
    assert cql_server_session.stats.connections_opened == 0
    with driver(cql_server_session) as cluster:
        cluster.connect()
    assert cql_server_session.stats.connections_opened >= 2


def test_command_line_server_prints_one_line_and_stops_on_sigterm() -> None:
    env = dict(os.environ, PYTHONWARNINGS="error")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgi_cassandra.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("CQL test server listening on 127.0.0.1:")
        port = int(line.split()[5].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_tls_is_served_with_the_given_context() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_context)
    with CQLServer(ssl_context=server_context) as server:
        options = {"ssl_context": client_context, "ssl_options": {"server_hostname": "127.0.0.1"}}
        with driver(server, **options) as cluster:
            row = cluster.connect().execute("SELECT release_version FROM system.local").one()
            assert row.release_version == server.release_version
        # A plain-text client gets no CQL answer from a TLS port.
        with driver(server, connect_timeout=1) as cluster, pytest.raises(NoHostAvailable):
            cluster.connect()
        assert server.stats.wait_for("connections_open", 0, timeout=5) == 0


@pytest.mark.parametrize("version", [pytest.param(None, id="v5"), pytest.param(4, id="v4")])
def test_batch_and_paging_through_the_driver(version: int | None) -> None:
    options = {} if version is None else {"protocol_version": version}
    with CQLServer() as server, driver(server, **options) as cluster:
        session = cluster.connect()
        session.execute(KEYSPACE)
        session.execute("CREATE TABLE ks.items (p int, c int, v text, PRIMARY KEY (p, c))")
        insert = session.prepare("INSERT INTO ks.items (p, c, v) VALUES (?, ?, ?)")
        batch = BatchStatement()
        for c in range(25):
            batch.add(insert, (1, c, f"v{c}"))
        session.execute(batch)
        assert server.stats.requests["BATCH"] == 1
        statement = SimpleStatement("SELECT c FROM ks.items WHERE p = 1", fetch_size=10)
        result = session.execute(statement)
        assert result.has_more_pages
        assert [row.c for row in result] == list(range(25))  # three pages, fetched as iterated


def test_server_process_runs_the_server_out_of_process_and_stops_it() -> None:
    from wsgi_cassandra.testing import ServerProcess

    with ServerProcess() as server:
        assert server.pid != os.getpid()
        with driver(server) as cluster:
            row = cluster.connect().execute("SELECT release_version FROM system.local").one()
        assert row.release_version.startswith("4.")
    assert server.proc is not None
    assert server.proc.poll() is not None  # the child exited
    with pytest.raises(ConnectionRefusedError):  # and nothing listens there any more
        socket.create_connection((server.host, server.port), timeout=5).close()
