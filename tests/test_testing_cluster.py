"""CQLCluster: the driver sees N real hosts, spreads queries on them, and survives one going down."""

from __future__ import annotations

from typing import Any

import pytest
from cassandra.cluster import Cluster, NoHostAvailable

from tests.support.clients import driver
from tests.support.wait import wait_until
from wsgi_cassandra.testing import CQLCluster

pytestmark = pytest.mark.integration

PROBE = "SELECT release_version FROM system.local"
ONE = ["127.0.0.1"]  # one contact point: the driver discovers the other nodes


def test_driver_discovers_every_node_and_spreads_queries(cql_cluster: CQLCluster) -> None:
    with driver(cql_cluster, contact_points=ONE) as client:
        session = client.connect()
        hosts = sorted(h.address for h in client.metadata.all_hosts())
        assert hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        assert {h.datacenter for h in client.metadata.all_hosts()} == {"datacenter1"}
        # connect() returns after the first pool; wait for all three (bounded).
        wait_until(lambda: all(s.stats.startups >= 1 for s in cql_cluster.servers), timeout=10)
        before = [s.stats.requests.get("QUERY", 0) for s in cql_cluster.servers]
        for _ in range(30):
            session.execute(PROBE)
        after = [s.stats.requests.get("QUERY", 0) for s in cql_cluster.servers]
        assert all(a - b >= 5 for a, b in zip(after, before)), (before, after)
        total = cql_cluster.stats.snapshot()
        assert total.requests["QUERY"] == sum(after)


def test_token_ring_has_one_distinct_token_per_node(cql_cluster: CQLCluster) -> None:
    with driver(cql_cluster, contact_points=ONE) as client:
        client.connect()
        ring = client.metadata.token_map.ring
        assert len(ring) == 3
        assert len({client.metadata.token_map.token_to_host_owner[t].address for t in ring}) == 3


def test_prepared_statements_route_to_every_node_and_read_back(cql_cluster: CQLCluster) -> None:
    with driver(cql_cluster, contact_points=ONE) as client:
        session = client.connect()
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE ks.kv (k int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO ks.kv (k, v) VALUES (?, ?)")
        select = session.prepare("SELECT v FROM ks.kv WHERE k = ?")
        wait_until(lambda: all(s.stats.startups >= 1 for s in cql_cluster.servers), timeout=10)
        for k in range(60):
            session.execute(insert, (k, f"v{k}"))
        assert [session.execute(select, (k,)).one().v for k in (0, 31, 59)] == ["v0", "v31", "v59"]
        executes = [s.stats.requests.get("EXECUTE", 0) for s in cql_cluster.servers]
        assert all(n > 0 for n in executes), executes  # token-aware routing hit every replica


def test_stopping_one_node_keeps_queries_working_and_it_comes_back() -> None:
    with CQLCluster(nodes=3) as nodes, driver(nodes, contact_points=ONE) as client:
        session = client.connect()
        wait_until(lambda: all(s.stats.startups >= 1 for s in nodes.servers), timeout=10)
        nodes.stop_node(2)
        assert nodes.servers[2].stats.connections_open == 0
        for _ in range(20):
            assert session.execute(PROBE).one()
        wait_until(lambda: not _host(client, "127.0.0.3").is_up, timeout=10)
        nodes.start_node(2)
        # The other nodes push STATUS_CHANGE UP; the driver reconnects to the same address and port.
        wait_until(lambda: _host(client, "127.0.0.3").is_up, timeout=15)
        wait_until(lambda: nodes.servers[2].stats.connections_open >= 1, timeout=15)


def test_every_node_down_means_no_host_available() -> None:
    with CQLCluster(nodes=2) as nodes, driver(nodes, contact_points=ONE, connect_timeout=1) as client:
        for i in range(2):
            nodes.stop_node(i)
        with pytest.raises(NoHostAvailable):
            client.connect()


def test_no_connection_leaks_after_shutdown(cql_cluster: CQLCluster) -> None:
    with driver(cql_cluster, contact_points=ONE) as client:
        client.connect()
        wait_until(lambda: all(s.stats.startups >= 1 for s in cql_cluster.servers), timeout=10)
    assert cql_cluster.stats.wait_for("connections_open", 0, timeout=5) == 0
    facts = cql_cluster.stats.snapshot()
    assert facts.startups == facts.connections_opened - facts.protocol_errors


def _host(client: Cluster, address: str) -> Any:
    (host,) = [h for h in client.metadata.all_hosts() if h.address == address]
    return host
