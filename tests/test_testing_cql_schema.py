"""System tables of the CQL engine, read the way the driver reads them.

The driver's own schema parsers (``cassandra.metadata.SchemaParserV3/V4``) run over the engine's
answers through a fake connection, so ``KeyspaceMetadata``/``TableMetadata`` come out exactly as
``cluster.metadata`` would show them; one test connects the real driver to a ``CQLServer``.
"""

from __future__ import annotations

import inspect
import uuid
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from cassandra import InvalidRequest as DriverInvalidRequest
from cassandra.metadata import SchemaParserV3, SchemaParserV4, get_schema_parser

from wsgi_cassandra.testing import cql
from wsgi_cassandra.testing.cql import Engine, NodeInfo

if TYPE_CHECKING:
    from wsgi_cassandra.testing.cql import Rows

NODES = [
    NodeInfo("127.0.0.1", 9042, uuid.UUID(int=1), ("-9223372036854775808",)),
    NodeInfo("127.0.0.2", 9042, uuid.UUID(int=2), ("-3074457345618258603",), rack="rack2"),
    NodeInfo("127.0.0.3", 9042, uuid.UUID(int=3), ("3074457345618258602",)),
]


def make_engine(release: str) -> Engine:
    engine = Engine(release_version=release, cluster_name="Schema Test")
    engine.set_nodes(NODES)
    return engine


def run(engine: Engine, query: str, node: NodeInfo = NODES[0]) -> Any:
    return engine.execute(query, keyspace=None, node=node, protocol_version=4)


def as_dicts(result: Rows) -> list[dict[str, Any]]:
    """Rows as the driver decodes them: every value round-tripped through the wire format."""
    return [
        {c.name: c.cqltype.from_binary(c.cqltype.to_binary(v, 4), 4) for c, v in zip(result.columns, row)}
        for row in result.rows
    ]


class EngineConnection:
    """Just enough of ``cassandra.connection.Connection`` for the schema parsers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def wait_for_responses(self, *messages: Any, timeout: float, fail_on_error: bool = True) -> list[Any]:
        out = []
        for message in messages:
            try:
                result = run(self.engine, message.query)
            except cql.InvalidRequest as exc:
                out.append((False, DriverInvalidRequest(exc.message)))
                continue
            rows = [[d[c.name] for c in result.columns] for d in as_dicts(result)]
            names = [c.name for c in result.columns]
            out.append((True, SimpleNamespace(column_names=names, parsed_rows=rows, paging_state=None)))
        return out


# scylla-driver's parsers also take ``fetch_size`` and ``metadata_request_timeout`` (the schema read is
# paged there); cassandra-driver's take only the timeout. Detected, so either driver's parsers run here.
_PAGED = "metadata_request_timeout" in inspect.signature(get_schema_parser).parameters


def parser_for(connection: EngineConnection, release: str) -> Any:
    """The parser the installed driver picks for ``release``, as ``cluster.metadata`` would."""
    extra = (None,) if _PAGED else ()  # metadata_request_timeout: the driver's default, none
    return get_schema_parser(connection, release, None, 5, *extra)


def parser_v4(connection: EngineConnection) -> Any:
    return SchemaParserV4(connection, 5, None, None) if _PAGED else SchemaParserV4(connection, 5)


SCHEMA = [
    "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    "CREATE TABLE ks.simple (k text PRIMARY KEY, v int)",
    'CREATE TABLE ks."Mixed" (a int, b uuid, c timestamp, d double, s text static, m map<text, frozen<list<int>>>, '
    "PRIMARY KEY ((a, b), c, d)) WITH CLUSTERING ORDER BY (c DESC, d ASC) AND comment = 'hello'",
]


@pytest.mark.parametrize(
    ("release", "parser_class"),
    [
        pytest.param("4.1.5", SchemaParserV4, id="cassandra-4"),
        pytest.param("3.11.16", SchemaParserV3, id="cassandra-3.11"),
    ],
)
def test_driver_schema_parser_builds_the_catalog(release: str, parser_class: type) -> None:
    engine = make_engine(release)
    for statement in SCHEMA:
        run(engine, statement)
    parser = parser_for(EngineConnection(engine), release)
    assert type(parser) is parser_class
    keyspaces = {ks.name: ks for ks in parser.get_all_keyspaces()}

    system = {"system", "system_schema", "system_auth", "system_distributed", "system_traces"}
    assert system <= set(keyspaces)
    assert ("system_virtual_schema" in keyspaces) is (release.startswith("4"))
    ks = keyspaces["ks"]
    assert ks.replication_strategy.replication_factor == 1
    simple = ks.tables["simple"]
    assert [c.name for c in simple.partition_key] == ["k"]
    assert {n: c.cql_type for n, c in simple.columns.items()} == {"k": "text", "v": "int"}
    assert not simple.is_compact_storage
    mixed = ks.tables["Mixed"]
    assert [c.name for c in mixed.partition_key] == ["a", "b"]
    assert [(c.name, c.is_reversed) for c in mixed.clustering_key] == [("c", True), ("d", False)]
    assert {n: c.cql_type for n, c in mixed.columns.items()} == {
        "a": "int",
        "b": "uuid",
        "c": "timestamp",
        "d": "double",
        "s": "text",
        "m": "map<text, frozen<list<int>>>",
    }
    assert mixed.columns["s"].is_static
    assert mixed.options["comment"] == "hello"
    assert 'CREATE TABLE ks."Mixed"' in mixed.export_as_string()
    assert "system.local" not in keyspaces["system"].tables  # tables are keyed by name
    assert {"local", "peers"} <= set(keyspaces["system"].tables)
    assert ("peers_v2" in keyspaces["system"].tables) is release.startswith("4")


def test_schema_refresh_queries_of_one_table() -> None:
    engine = make_engine("4.1.5")
    for statement in SCHEMA:
        run(engine, statement)
    parser = parser_v4(EngineConnection(engine))
    table = parser.get_table({}, "ks", "simple")
    assert table is not None
    assert list(table.columns) == ["k", "v"]
    assert parser.get_table({}, "ks", "nope") is None
    assert parser.get_keyspace({}, "ks").name == "ks"
    run(engine, "DROP TABLE ks.simple")
    assert parser.get_table({}, "ks", "simple") is None
    run(engine, "DROP KEYSPACE ks")
    assert parser.get_keyspace({}, "ks") is None


@pytest.mark.parametrize(
    ("release", "port_columns"),
    [pytest.param("4.1.5", {"rpc_port": 9042, "listen_port": 7000}, id="4.x"), pytest.param("3.11.16", {}, id="3.11")],
)
def test_system_local_describes_the_answering_node(release: str, port_columns: dict[str, int]) -> None:
    engine = make_engine(release)
    (local,) = as_dicts(run(engine, "SELECT * FROM system.local WHERE key='local'", NODES[1]))
    assert local["rpc_address"] == local["broadcast_address"] == local["listen_address"] == "127.0.0.2"
    assert local["host_id"] == NODES[1].host_id
    assert local["rack"] == "rack2"
    assert local["tokens"] == {"-3074457345618258603"}
    assert local["release_version"] == release
    assert local["cluster_name"] == "Schema Test"
    assert local["partitioner"] == "org.apache.cassandra.dht.Murmur3Partitioner"
    assert local["schema_version"] == engine.schema_version
    for name, value in port_columns.items():
        assert local[name] == value
    if not port_columns:
        assert "rpc_port" not in local


def test_peers_list_every_other_node_and_schema_version_moves() -> None:
    engine = make_engine("4.1.5")
    before = engine.schema_version
    peers = as_dicts(
        run(
            engine,
            "SELECT peer, data_center, host_id, rack, release_version, rpc_address, schema_version FROM system.peers",
            NODES[0],
        )
    )
    assert sorted(p["peer"] for p in peers) == ["127.0.0.2", "127.0.0.3"]
    assert {p["schema_version"] for p in peers} == {before}
    v2 = as_dicts(run(engine, "SELECT * FROM system.peers_v2", NODES[2]))
    assert sorted((p["native_address"], p["native_port"], p["peer_port"]) for p in v2) == [
        ("127.0.0.1", 9042, 7000),
        ("127.0.0.2", 9042, 7000),
    ]
    run(engine, SCHEMA[0])
    assert engine.schema_version != before
    (local,) = as_dicts(run(engine, "SELECT schema_version FROM system.local WHERE key='local'"))
    assert local == {"schema_version": engine.schema_version}


def test_peers_v2_is_unconfigured_under_3_11() -> None:
    engine = make_engine("3.11.16")
    with pytest.raises(cql.InvalidRequest, match="unconfigured table peers_v2"):
        run(engine, "SELECT * FROM system.peers_v2")
    with pytest.raises(cql.InvalidRequest, match="system_virtual_schema"):
        run(engine, "SELECT * from system_virtual_schema.keyspaces")


@pytest.mark.integration
@pytest.mark.parametrize("release", [pytest.param("4.1.5", id="4.x"), pytest.param("3.11.16", id="3.11")])
def test_real_driver_sees_tables_and_reads_rows(release: str) -> None:
    from cassandra.cluster import Cluster

    from wsgi_cassandra.testing import CQLServer

    with CQLServer(release_version=release) as server:
        cluster = Cluster([server.host], port=server.port, protocol_version=4)
        try:
            session = cluster.connect()
            session.execute(SCHEMA[0])
            session.execute(
                "CREATE TABLE ks.t (k text, c int, v list<text>, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)"
            )
            table = cluster.metadata.keyspaces["ks"].tables["t"]
            assert {n: c.cql_type for n, c in table.columns.items()} == {"k": "text", "c": "int", "v": "list<text>"}
            assert [c.is_reversed for c in table.clustering_key] == [True]
            insert = session.prepare("INSERT INTO ks.t (k, c, v) VALUES (?, ?, ?)")
            for i in range(3):
                session.execute(insert, ("a", i, [str(i)]))
            assert [(r.c, r.v) for r in session.execute("SELECT c, v FROM ks.t WHERE k = 'a'")] == [
                (2, ["2"]),
                (1, ["1"]),
                (0, ["0"]),
            ]
            session.execute("DROP TABLE ks.t")
            assert "t" not in cluster.metadata.keyspaces["ks"].tables
        finally:
            cluster.shutdown()
