"""The fast-connect profile: settings, skipped schema download, the app's keyspaces only, routing kept."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.clients import refused_versions
from tests.support.wait import wait_until
from wsgi_cassandra import CassandraMiddleware, ConfigurationError
from wsgi_cassandra.config import Settings
from wsgi_cassandra.connect import Connector
from wsgi_cassandra.driver import cluster_factory
from wsgi_cassandra.fastconnect import METADATA_THREAD_PREFIX, keyspaces_used, newest_stable_protocol
from wsgi_cassandra.holder import SessionHolder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.target import Target
    from wsgi_cassandra.connect import Connected
    from wsgi_cassandra.testing import CQLServer


def noop_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("204 No Content", [])
    return []


# --- settings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        pytest.param({}, {}, ("full", False), id="default-full"),
        pytest.param({"fast_connect": True}, {}, ("background", True), id="profile-defers-schema"),
        pytest.param({}, {"WSGI_CASSANDRA_FAST_CONNECT": "1"}, ("background", True), id="profile-from-env"),
        pytest.param(
            {"fast_connect": True, "schema_metadata": "keyspaces"}, {}, ("keyspaces", True), id="part-beats-profile"
        ),
        pytest.param({}, {"WSGI_CASSANDRA_SCHEMA_METADATA": "None"}, ("none", False), id="part-alone-from-env"),
    ],
)
def test_profile_and_parts(explicit: dict[str, Any], environ: dict[str, str], expected: tuple[str, bool]) -> None:
    settings = Settings.resolve(explicit, environ)
    assert (settings.schema_metadata, settings.fast_connect) == expected


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        pytest.param({"WSGI_CASSANDRA_SCHEMA_METADATA": "partial"}, "WSGI_CASSANDRA_SCHEMA_METADATA", id="mode"),
        pytest.param({"WSGI_CASSANDRA_FAST_CONNECT": "maybe"}, "WSGI_CASSANDRA_FAST_CONNECT", id="flag"),
        pytest.param({"WSGI_CASSANDRA_METADATA_KEYSPACES": "a,b-c"}, "WSGI_CASSANDRA_METADATA_KEYSPACES", id="ks"),
        pytest.param({"WSGI_CASSANDRA_WARM_JITTER": "-1"}, "WSGI_CASSANDRA_WARM_JITTER", id="jitter"),
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.resolve({}, environ)


def test_metadata_keyspaces_and_jitter_parse() -> None:
    settings = Settings.resolve({}, {"WSGI_CASSANDRA_METADATA_KEYSPACES": "a, b", "WSGI_CASSANDRA_WARM_JITTER": "0.5"})
    assert settings.metadata_keyspaces == ("a", "b")
    assert settings.warm_jitter == 0.5


def test_newest_stable_protocol_is_not_beta_nor_dse() -> None:
    from cassandra import ProtocolVersion

    version = newest_stable_protocol()
    assert version not in ProtocolVersion.BETA_VERSIONS
    assert version < ProtocolVersion.DSE_V1
    assert version >= 4


def test_keyspaces_used_keeps_order_without_duplicates() -> None:
    class Column:
        keyspace_name = "orders"

    class Prepared:
        column_metadata = (Column(),)
        keyspace = None

    assert keyspaces_used("shop", {"a": Prepared(), "b": Prepared()}, ["shop", "audit"]) == ["shop", "orders", "audit"]  # type: ignore[dict-item]


# --- against the server ---------------------------------------------------------------------------------


@pytest.fixture
def two_keyspaces(cassandra: Target, keyspace: str) -> Iterator[tuple[str, str]]:
    """The test keyspace plus one the app never uses."""
    other = "wsgi_cassandra_other_" + uuid.uuid4().hex[:12]
    with cassandra.cluster() as cluster:
        cluster.connect().execute(
            f"CREATE KEYSPACE {other} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
    try:
        yield keyspace, other
    finally:
        with cassandra.cluster() as cluster:
            cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {other}")


def wait_for_keyspace(connected: Connected, name: str) -> None:
    """The background fetch is asynchronous: poll (bounded) until its keyspace arrived."""
    wait_until(lambda: name in connected.cluster.metadata.keyspaces, timeout=10, what=f"keyspace {name!r} metadata")


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["background", "keyspaces"])
def test_only_the_apps_keyspaces_are_loaded(cassandra: Target, two_keyspaces: tuple[str, str], mode: str) -> None:
    used, unused = two_keyspaces
    app = CassandraMiddleware(
        noop_app,
        keyspace=used,
        warmer="lazy",
        fast_connect=True,
        schema_metadata=mode,
        **cassandra.middleware_kwargs(),
    )
    try:
        connected = app.holder.get()
        assert connected is not None
        if mode == "keyspaces":  # fetched during the warm-up: present at once
            assert used in connected.cluster.metadata.keyspaces
        wait_for_keyspace(connected, used)
        keyspaces = set(connected.cluster.metadata.keyspaces)
        assert unused not in keyspaces
        assert "system_schema" not in keyspaces  # no full download
        assert connected.cluster.schema_metadata_enabled is False
        assert connected.cluster.metadata.get_replicas(used, b"\x00\x00\x00\x01")  # the token map routes
    finally:
        app.shutdown()


@pytest.mark.integration
def test_statement_keyspaces_and_extra_keyspaces_are_loaded(cassandra: Target, two_keyspaces: tuple[str, str]) -> None:
    used, other = two_keyspaces
    app = CassandraMiddleware(
        noop_app,
        warmer="lazy",
        schema_metadata="keyspaces",
        statements={"get": f"SELECT name FROM {used}.items WHERE id = ?"},
        metadata_keyspaces=[other],
        **cassandra.middleware_kwargs(),
    )
    try:
        connected = app.holder.get()
        assert connected is not None
        assert {used, other} <= set(connected.cluster.metadata.keyspaces)
    finally:
        app.shutdown()


@pytest.mark.integration
def test_profile_skips_protocol_step_down(cassandra: Target, keyspace: str) -> None:
    server = cassandra.embedded
    app = CassandraMiddleware(
        noop_app, keyspace=keyspace, warmer="lazy", fast_connect=True, **cassandra.middleware_kwargs()
    )
    try:
        server.stats.reset()
        connected = app.holder.get()
        assert connected is not None
        assert connected.cluster.protocol_version == newest_stable_protocol()
        assert server.stats.snapshot().protocol_errors == 0  # no refused versions on the way
    finally:
        app.shutdown()


@pytest.mark.integration
def test_default_negotiation_steps_down(cassandra: Target, keyspace: str) -> None:
    """The cost the profile removes, observed: the driver's own negotiation is refused on the way down
    (cassandra-driver's DSE versions; scylla-driver has none to refuse, so there it costs nothing)."""
    server = cassandra.embedded
    app = CassandraMiddleware(noop_app, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs())
    try:
        server.stats.reset()
        assert app.holder.get() is not None
        assert server.stats.snapshot().protocol_errors == refused_versions()
    finally:
        app.shutdown()


@pytest.mark.integration
def test_queries_go_to_a_replica_with_schema_deferred() -> None:
    """3 nodes, replication factor 1: every prepared read is coordinated by the one replica of its key."""
    from wsgi_cassandra.testing import CQLCluster

    with CQLCluster(nodes=3) as nodes:
        env = {"CASSANDRA_CONTACT_POINTS": ",".join(nodes.contact_points), "CASSANDRA_PORT": str(nodes.port)}
        setup = CassandraMiddleware(noop_app, warmer="lazy", environ=env)
        session = setup.holder.session()
        session.execute(
            "CREATE KEYSPACE routed WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute("CREATE TABLE routed.items (id int PRIMARY KEY, name text)")
        setup.shutdown()

        app = CassandraMiddleware(
            noop_app,
            keyspace="routed",
            warmer="lazy",
            fast_connect=True,
            statements={"get": "SELECT name FROM items WHERE id = ?"},
            environ=env,
        )
        try:
            connected = app.holder.get()
            assert connected is not None
            wait_for_keyspace(connected, "routed")
            get = connected.statements["get"]
            coordinators = set()
            for key in range(20):
                bound = get.bind((key,))
                replicas = connected.cluster.metadata.get_replicas("routed", bound.routing_key)
                assert len(replicas) == 1
                result = connected.session.execute(bound)
                coordinator = result.response_future.coordinator_host
                assert coordinator == replicas[0].endpoint.address or str(coordinator).startswith(
                    replicas[0].endpoint.address
                )
                coordinators.add(str(coordinator))
            assert len(coordinators) > 1  # the keys spread over several nodes, each read went to its owner
        finally:
            app.shutdown()


# --- the background fetch is the holder's to stop -------------------------------------------------------


def metadata_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(METADATA_THREAD_PREFIX) and t.is_alive()]


@pytest.mark.integration
def test_shutdown_ends_a_background_metadata_fetch_that_the_server_delays(cql_server: CQLServer) -> None:
    """The fetch waits for a schema answer the server holds back for a minute (and the driver for as
    long: ``connect_timeout`` 60 s); ``shutdown()`` must not leave it behind."""
    settings = Settings.resolve(
        {"contact_points": cql_server.host, "port": cql_server.port, "connect_timeout": 60, "protocol_version": 5},
        {},
    )
    connector = Connector(cluster_factory(settings), schema_metadata="background", metadata_keyspaces=["system"])
    holder = SessionHolder(connector, shutdown_timeout=5)
    delayed = cql_server.faults.delay(60, query="system_schema", times=1000)
    try:
        assert holder.connect(timeout=30)
        wait_until(lambda: delayed.remaining != 1000, timeout=10, what="the delayed schema query")
        assert metadata_threads()  # fetching, in the background
        assert holder.shutdown() is True
        assert not metadata_threads()  # ended within the shutdown bound, not some time after it
    finally:
        cql_server.faults.clear()
        holder.shutdown()
