"""Schema changes on the CQL test server through the real driver: ALTER, secondary indexes, UDTs, DESCRIBE.

What is checked is what an application sees: rows read back, the errors it gets (the driver's exception class
is the protocol error code), the ``system_schema`` rows and the driver's own schema metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from cassandra import InvalidRequest

from tests.support.target import Target

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cassandra.cluster import Cluster, Session

    from wsgi_cassandra.testing import CQLServer

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(cql_server: CQLServer) -> Iterator[Cluster]:
    with Target.for_server(cql_server).cluster(protocol_version=5) as cluster:
        yield cluster


@pytest.fixture
def session(cluster: Cluster) -> Session:
    session = cluster.connect()
    session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.set_keyspace("ks")
    return session


def rows(session: Session, query: str, *values: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in session.execute(query, values or None)]


def test_alter_table_add_drop_rename_and_options(session: Session, cluster: Cluster) -> None:
    session.execute("CREATE TABLE t (k int, c int, v text, PRIMARY KEY (k, c))")
    session.execute("INSERT INTO t (k, c, v) VALUES (1, 1, 'a')")
    session.execute("ALTER TABLE t ADD (s int static, tags set<text>)")
    session.execute("UPDATE t SET s = 7, tags = {'x'} WHERE k = 1 AND c = 1")
    assert rows(session, "SELECT * FROM t") == [(1, 1, 7, {"x"}, "a")]
    session.execute("ALTER TABLE t RENAME c TO pos")
    assert rows(session, "SELECT pos, v FROM t WHERE k = 1 AND pos = 1") == [(1, "a")]
    session.execute("INSERT INTO t (k, pos, v) VALUES (1, 2, 'b')")
    session.execute("DELETE FROM t WHERE k = 1 AND pos > 1")
    assert rows(session, "SELECT pos FROM t WHERE k = 1") == [(1,)]
    session.execute("ALTER TABLE t DROP v")
    session.execute("ALTER TABLE t ADD v text")
    assert rows(session, "SELECT v FROM t WHERE k = 1") == [(None,)]  # a dropped column's data stays dropped
    assert rows(session, "SELECT column_name, kind, type FROM system_schema.dropped_columns") == [
        ("v", "regular", "text")
    ]
    session.execute("ALTER TABLE t WITH comment = 'renamed' AND gc_grace_seconds = 60")
    assert rows(session, "SELECT comment, gc_grace_seconds FROM system_schema.tables WHERE keyspace_name = 'ks'") == [
        ("renamed", 60)
    ]
    cluster.refresh_schema_metadata()
    table = cluster.metadata.keyspaces["ks"].tables["t"]
    assert list(table.columns) == ["k", "pos", "s", "tags", "v"]
    assert table.options["comment"] == "renamed"


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        pytest.param("ALTER TABLE t ADD v int", "Column with name 'v' already exists", id="add-existing"),
        pytest.param("ALTER TABLE t DROP k", "Cannot drop PRIMARY KEY column k", id="drop-key"),
        pytest.param("ALTER TABLE t DROP nosuch", "Column nosuch was not found in table 'ks.t'", id="drop-missing"),
        pytest.param("ALTER TABLE t RENAME v TO w", "Cannot rename non PRIMARY KEY column v", id="rename-regular"),
        pytest.param("ALTER TABLE t ALTER v TYPE blob", "Altering column types is no longer supported", id="type"),
        pytest.param("ALTER TABLE nosuch ADD x int", "Table 'ks.nosuch' doesn't exist", id="no-table"),
        pytest.param("ALTER KEYSPACE nosuch WITH durable_writes = false", "Keyspace 'nosuch' doesn't exist", id="ks"),
        pytest.param("CREATE INDEX ON t (k)", "Cannot create secondary index on the only partition key", id="pk-index"),
        pytest.param("CREATE INDEX ON t (nosuch)", "Column 'nosuch' doesn't exist", id="index-column"),
        pytest.param(
            "CREATE INDEX ON t (keys(v))", "Non-collection columns only support simple indexes", id="keys-of-text"
        ),
        pytest.param("DROP INDEX nosuch", "Index 'ks.nosuch' doesn't exist", id="drop-index"),
        pytest.param("DROP TYPE nosuch", "Type 'ks.nosuch' doesn't exist", id="drop-type"),
        pytest.param(
            "CREATE MATERIALIZED VIEW mv AS SELECT * FROM t WHERE v IS NOT NULL PRIMARY KEY (v, k)",
            "Materialized views are disabled",
            id="view",
        ),
        pytest.param(
            "CREATE FUNCTION f (a int) RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS 'return a;'",
            "User-defined functions are disabled",
            id="function",
        ),
        pytest.param("DESCRIBE TYPE nosuch", "User defined type 'nosuch' not found in 'ks'", id="describe-type"),
        pytest.param("DESCRIBE KEYSPACE nosuch", "'nosuch' not found in keyspaces", id="describe-keyspace"),
    ],
)
def test_schema_errors_are_invalid_requests_naming_the_problem(session: Session, statement: str, message: str) -> None:
    session.execute("CREATE TABLE t (k int PRIMARY KEY, v text)")
    with pytest.raises(InvalidRequest, match=message):
        session.execute(statement)


def test_alter_keyspace(session: Session, cluster: Cluster) -> None:
    session.execute(
        "ALTER KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1} "
        "AND durable_writes = false"
    )
    assert rows(
        session, "SELECT durable_writes, replication FROM system_schema.keyspaces WHERE keyspace_name = 'ks'"
    ) == [(False, {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "datacenter1": "1"})]
    cluster.refresh_schema_metadata()
    assert cluster.metadata.keyspaces["ks"].durable_writes is False


def test_indexes_on_regular_clustering_and_collection_columns(session: Session, cluster: Cluster) -> None:
    session.execute(
        "CREATE TABLE p (k int, c int, city text, tags set<text>, scores list<int>, attrs map<text, int>, "
        "dims frozen<list<int>>, PRIMARY KEY (k, c))"
    )
    for target in ("city", "c", "tags", "values(scores)", "keys(attrs)", "full(dims)"):
        session.execute(f"CREATE INDEX ON p ({target})")
    session.execute("CREATE INDEX IF NOT EXISTS p_city_idx ON p (city)")
    with pytest.raises(InvalidRequest, match="p_city_idx_1 is a duplicate of existing index p_city_idx"):
        session.execute("CREATE INDEX ON p (city)")
    insert = session.prepare("INSERT INTO p (k, c, city, tags, scores, attrs, dims) VALUES (?, ?, ?, ?, ?, ?, ?)")
    session.execute(insert, (1, 1, "Oslo", {"a", "b"}, [10, 20], {"x": 1}, [1, 2]))
    session.execute(insert, (2, 2, "Rome", {"b"}, [30], {"y": 2}, [3]))
    session.execute(insert, (3, 1, "Oslo", {"c"}, [20], {"x": 3, "z": 4}, [1, 2]))
    assert sorted(rows(session, "SELECT k FROM p WHERE city = 'Oslo'")) == [(1,), (3,)]
    assert sorted(rows(session, "SELECT k FROM p WHERE c = 1")) == [(1,), (3,)]
    assert sorted(rows(session, "SELECT k FROM p WHERE tags CONTAINS 'b'")) == [(1,), (2,)]
    contains = session.prepare("SELECT k FROM p WHERE scores CONTAINS ?")
    assert sorted(tuple(r) for r in session.execute(contains, (20,))) == [(1,), (3,)]
    assert sorted(rows(session, "SELECT k FROM p WHERE attrs CONTAINS KEY 'x'")) == [(1,), (3,)]
    assert sorted(rows(session, "SELECT k FROM p WHERE dims = [1, 2]")) == [(1,), (3,)]
    assert rows(session, "SELECT k FROM p WHERE city = 'Oslo' AND k = 3") == [(3,)]
    assert rows(session, "SELECT k FROM p WHERE city = 'Oslo' AND tags CONTAINS 'c' ALLOW FILTERING") == [(3,)]
    targets = rows(session, "SELECT index_name, options FROM system_schema.indexes WHERE keyspace_name = 'ks'")
    assert targets == [
        ("p_attrs_idx", {"target": "keys(attrs)"}),
        ("p_c_idx", {"target": "c"}),
        ("p_city_idx", {"target": "city"}),
        ("p_dims_idx", {"target": "full(dims)"}),
        ("p_scores_idx", {"target": "values(scores)"}),
        ("p_tags_idx", {"target": "values(tags)"}),
    ]
    cluster.refresh_schema_metadata()
    assert sorted(cluster.metadata.keyspaces["ks"].tables["p"].indexes) == [t[0] for t in targets]
    session.execute("DROP INDEX p_city_idx")
    with pytest.raises(InvalidRequest, match="ALLOW FILTERING"):
        session.execute("SELECT k FROM p WHERE city = 'Oslo'")
    assert sorted(rows(session, "SELECT k FROM p WHERE city = 'Oslo' ALLOW FILTERING")) == [(1,), (3,)]


def test_user_defined_types_nested_frozen_and_altered(session: Session, cluster: Cluster) -> None:
    session.execute("CREATE TYPE point (x int, y int)")
    session.execute("CREATE TYPE place (name text, at frozen<point>)")
    session.execute("CREATE TABLE places (id int PRIMARY KEY, home frozen<place>, visited list<frozen<place>>)")
    with pytest.raises(InvalidRequest, match="A user type with name 'point' already exists"):
        session.execute("CREATE TYPE point (z int)")
    insert = session.prepare("INSERT INTO places (id, home, visited) VALUES (?, ?, ?)")
    session.execute(insert, (1, ("home", (1, 2)), [("a", (3, 4))]))
    (home, visited) = session.execute("SELECT home, visited FROM places WHERE id = 1").one()
    assert (home.name, home.at.x, home.at.y) == ("home", 1, 2)
    assert [(v.name, v.at.x) for v in visited] == [("a", 3)]
    session.execute("ALTER TYPE point ADD z int")
    session.execute("ALTER TYPE place RENAME name TO label")
    (home,) = session.execute("SELECT home FROM places WHERE id = 1").one()
    assert (home.label, home.at.x, home.at.y, home.at.z) == ("home", 1, 2, None)
    assert rows(
        session, "SELECT type_name, field_names, field_types FROM system_schema.types WHERE keyspace_name = 'ks'"
    ) == [
        ("place", ["label", "at"], ["text", "frozen<point>"]),
        ("point", ["x", "y", "z"], ["int", "int", "int"]),
    ]
    with pytest.raises(InvalidRequest, match="still used by tables places"):
        session.execute("DROP TYPE place")
    with pytest.raises(InvalidRequest, match="still used by user types place"):
        session.execute("DROP TYPE point")
    cluster.refresh_schema_metadata()
    assert cluster.metadata.keyspaces["ks"].user_types["point"].field_names == ["x", "y", "z"]
    session.execute("DROP TABLE places")
    session.execute("DROP TYPE place")
    session.execute("DROP TYPE IF EXISTS place")


def test_describe(session: Session) -> None:
    session.execute("CREATE TYPE pt (x int, y int)")
    session.execute("CREATE TABLE shapes (id int PRIMARY KEY, origin frozen<pt>, name text)")
    session.execute("CREATE INDEX shapes_name ON shapes (name)")
    assert rows(session, "DESCRIBE INDEX shapes_name") == [
        ("ks", "index", "shapes_name", "CREATE INDEX shapes_name ON ks.shapes (name);")
    ]
    assert rows(session, "DESCRIBE TYPES") == [("ks", "type", "pt")]
    assert rows(session, "DESCRIBE TABLES") == [("ks", "table", "shapes")]
    assert [r[:3] for r in rows(session, "DESCRIBE SCHEMA")] == [
        ("ks", "keyspace", "ks"),
        ("ks", "type", "pt"),
        ("ks", "table", "shapes"),
        ("ks", "index", "shapes_name"),
    ]
    assert [r[:3] for r in rows(session, "DESC shapes")] == [("ks", "table", "shapes"), ("ks", "index", "shapes_name")]
    assert rows(session, "DESCRIBE ONLY KEYSPACE")[0][1] == "keyspace"
    keyspaces = [r[0] for r in rows(session, "DESCRIBE KEYSPACES")]
    assert keyspaces == sorted(keyspaces)
    assert {"ks", "system", "system_schema"} <= set(keyspaces)


def test_a_prepared_select_star_sees_an_added_column(session: Session) -> None:
    session.execute("CREATE TABLE u (id int PRIMARY KEY, name text)")
    session.execute("INSERT INTO u (id, name) VALUES (1, 'a')")
    select = session.prepare("SELECT * FROM u WHERE id = ?")
    assert rows(session, "SELECT * FROM u WHERE id = 1") == [(1, "a")]
    session.execute("ALTER TABLE u ADD email text")
    session.execute("UPDATE u SET email = 'a@x' WHERE id = 1")
    assert [tuple(r) for r in session.execute(select, (1,))] == [(1, "a@x", "a")]


def test_describe_is_a_syntax_error_before_4_0() -> None:
    from cassandra.protocol import SyntaxException

    from wsgi_cassandra.testing import CQLServer

    with CQLServer(release_version="3.11.17") as server, Target.for_server(server).cluster() as cluster:
        session = cluster.connect()
        with pytest.raises(SyntaxException):
            session.execute("DESCRIBE KEYSPACES")


def server_message(error: Exception) -> str:
    """The message the node sent: the driver keeps it as ``message`` on SyntaxException and ConfigurationException,
    and only inside its text (``... message="..."``) on InvalidRequest."""
    message = getattr(error, "message", None)
    if isinstance(message, str):
        return message
    text = str(error)
    marker = 'message="'
    assert marker in text, text
    assert text.endswith('"'), text
    return text[text.index(marker) + len(marker) : -1]


# Cassandra 4.0's answers, from its source: tableClusteringOrder in Parser.g and ErrorCollector (syntax errors),
# PropertyDefinitions/KeyspaceAttributes/TableAttributes (options), CreateTableStatement (columns, keys, order),
# SimpleStrategy/NetworkTopologyStrategy/ReplicationFactor (replication), AlterTableStatement, CreateIndexStatement.
_SYNTAX, _INVALID, _CONFIG = "SyntaxException", "InvalidRequest", "ConfigurationException"
DDL_ERRORS = [
    (
        "CREATE TABLE o (k int, c int, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c)",
        _SYNTAX,
        "line 1:77 no viable alternative at input ')' (...WITH CLUSTERING ORDER BY (c[)])",
    ),
    (
        "CREATE TABLE o (k int, c int, d int, PRIMARY KEY (k, c, d))\n"
        "WITH CLUSTERING ORDER BY (c ASC, d) AND comment = 'x'",
        _SYNTAX,
        "line 2:34 no viable alternative at input ')' (... BY (c ASC, d[)]...)",
    ),
    (  # a line comment is one hidden token with its newline; the snippet joins the lines
        "CREATE TABLE o (k int, c int, PRIMARY KEY (k, c)) WITH -- note\nCLUSTERING ORDER BY (c)",
        _SYNTAX,
        "line 2:22 no viable alternative at input ')' (... -- noteCLUSTERING ORDER BY (c[)])",
    ),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND foo = 1",
        _SYNTAX,
        "Unknown property 'foo'",
    ),
    ("ALTER KEYSPACE ks WITH foo = 1", _SYNTAX, "Unknown property 'foo'"),
    ("ALTER KEYSPACE nosuch WITH foo = 1", _SYNTAX, "Unknown property 'foo'"),
    (
        "CREATE KEYSPACE k2 WITH replication = 'x'",
        _SYNTAX,
        "Invalid value for property 'replication'. It should be a map.",
    ),
    (
        "CREATE KEYSPACE k2 WITH durable_writes = false AND durable_writes = true",
        _SYNTAX,
        "Multiple definition for property 'durable_writes'",
    ),
    ("CREATE KEYSPACE k2 WITH durable_writes = false", _INVALID, "Missing mandatory option 'replication'"),
    ("CREATE KEYSPACE ks WITH replication = {'replication_factor': 1}", _CONFIG, "Missing replication strategy class"),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 'x'}",
        _CONFIG,
        'For input string: "x"',
    ),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': -1}",
        _CONFIG,
        "Replication factor must be non-negative, found -1",
    ),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy'}",
        _CONFIG,
        "SimpleStrategy requires a replication_factor strategy option.",
    ),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1, 'dc1': 1}",
        _CONFIG,
        "Unrecognized strategy option {dc1} passed to SimpleStrategy for keyspace k2",
    ),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1, 'dc9': 1}",
        _CONFIG,
        "Unrecognized strategy option {dc9} passed to NetworkTopologyStrategy for keyspace k2",
    ),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'NetworkTopologyStrategy'}",
        _CONFIG,
        "Configuration for at least one datacenter must be present",
    ),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'NoSuchStrategy'}",
        _CONFIG,
        "Unable to find replication strategy class 'org.apache.cassandra.locator.NoSuchStrategy'",
    ),
    (
        "CREATE KEYSPACE k2 WITH replication = {'class': 'LocalStrategy'}",
        _INVALID,
        "Unable to use given strategy class: LocalStrategy is reserved for internal use.",
    ),
    ("CREATE TABLE nosuch.o (k int PRIMARY KEY)", _INVALID, "Keyspace 'nosuch' doesn't exist"),
    ("CREATE TABLE o (k int PRIMARY KEY) WITH foo = 1", _SYNTAX, "Unknown property 'foo'"),
    ("ALTER TABLE t WITH foo = 1", _SYNTAX, "Unknown property 'foo'"),
    (
        "CREATE TABLE o (k int PRIMARY KEY) WITH comment = 'a' AND comment = 'b'",
        _SYNTAX,
        "Multiple definition for property 'comment'",
    ),
    ("CREATE TABLE o (k int PRIMARY KEY, k text)", _INVALID, "Duplicate column 'k' declaration for table 'o'"),
    ("CREATE TABLE ks.o (k int PRIMARY KEY, k text)", _INVALID, "Duplicate column 'k' declaration for table 'ks.o'"),
    (
        "CREATE TABLE o (k int PRIMARY KEY, v int, PRIMARY KEY (k))",
        _INVALID,
        "Multiple PRIMARY KEY specified for table 'o' (exactly one required)",
    ),
    (
        "CREATE TABLE o (k int, v int, PRIMARY KEY (k, nosuch))",
        _INVALID,
        "Unknown column 'nosuch' referenced in PRIMARY KEY for table 'o'",
    ),
    (
        "CREATE TABLE o (k int, v int, PRIMARY KEY (k, k))",
        _INVALID,
        "Duplicate column 'k' in PRIMARY KEY clause for table 'o'",
    ),
    (
        "CREATE TABLE o (k list<int> PRIMARY KEY)",
        _INVALID,
        "Invalid non-frozen collection type list<int> for PRIMARY KEY column 'k'",
    ),
    (
        "CREATE TABLE o (k int, c int, d int, PRIMARY KEY (k, c, d)) WITH CLUSTERING ORDER BY (d ASC, c ASC)",
        _INVALID,
        "Clustering key columns must exactly match columns in CLUSTERING ORDER BY directive",
    ),
    (
        "CREATE TABLE o (k int, c int, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c ASC, c DESC)",
        _INVALID,
        "Duplicate column 'c' in CLUSTERING ORDER BY clause for table 'o'",
    ),
    (
        "CREATE TABLE o (k int PRIMARY KEY, s int static)",
        _INVALID,
        "Static columns are only useful (and thus allowed) if the table has at least one clustering column",
    ),
    (
        "CREATE TABLE o (k int, c int static, PRIMARY KEY (k, c))",
        _INVALID,
        "Static column 'c' cannot be part of the PRIMARY KEY",
    ),
    (
        "CREATE TABLE o (k int PRIMARY KEY, c counter, v text)",
        _INVALID,
        "Cannot mix counter and non counter columns in the same table",
    ),
    (
        "CREATE TABLE o (k int PRIMARY KEY) WITH gc_grace_seconds = 'x'",
        _SYNTAX,
        "Invalid integer value x for 'gc_grace_seconds'",
    ),
    (
        "CREATE TABLE o (k int PRIMARY KEY) WITH compaction = 'x'",
        _SYNTAX,
        "Invalid value for property 'compaction'. It should be a map.",
    ),
    (
        "ALTER TABLE t WITH gc_grace_seconds = -1",
        _CONFIG,
        "gc_grace_seconds must be greater than or equal to 0 (got -1)",
    ),
    (
        "CREATE TABLE o (k int PRIMARY KEY, n counter) WITH default_time_to_live = 5",
        _INVALID,
        "Cannot set default_time_to_live on a table with counters",
    ),
    ("CREATE TABLE o (k duration PRIMARY KEY)", _INVALID, "duration type is not supported for PRIMARY KEY column 'k'"),
    (
        "CREATE TABLE o (k int, c int, d int, PRIMARY KEY (k, c, d)) WITH CLUSTERING ORDER BY (c DESC)",
        _INVALID,
        "Clustering key columns must exactly match columns in CLUSTERING ORDER BY directive",
    ),
    ("ALTER TABLE t ADD v int", _INVALID, "Column with name 'v' already exists"),
    ("ALTER TABLE t DROP k", _INVALID, "Cannot drop PRIMARY KEY column k"),
    ("CREATE INDEX ON t (k)", _INVALID, "Cannot create secondary index on the only partition key column k"),
]


@pytest.mark.parametrize(("statement", "error", "message"), DDL_ERRORS, ids=[s for s, _, _ in DDL_ERRORS])
def test_ddl_errors_are_cassandra_4_0s_class_and_text(
    session: Session, statement: str, error: str, message: str
) -> None:
    session.execute("CREATE TABLE t (k int PRIMARY KEY, v text)")
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the class is checked below, by its name
        session.execute(statement)
    assert (type(raised.value).__name__, server_message(raised.value)) == (error, message)


def test_network_topology_strategy_takes_the_clusters_own_datacenters() -> None:
    from cassandra.protocol import ConfigurationException

    from wsgi_cassandra.testing import CQLCluster

    with CQLCluster(nodes=1, datacenter="east") as nodes, Target.for_server(nodes.servers[0]).cluster() as cluster:
        session = cluster.connect()
        with pytest.raises(ConfigurationException) as raised:
            session.execute(
                "CREATE KEYSPACE a WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}"
            )
        assert raised.value.message == (
            "Unrecognized strategy option {datacenter1} passed to NetworkTopologyStrategy for keyspace a"
        )
        session.execute("CREATE KEYSPACE a WITH replication = {'class': 'NetworkTopologyStrategy', 'east': 1}")
        session.execute(
            "CREATE KEYSPACE b WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 2}"
        )
        assert rows(
            session, "SELECT keyspace_name, replication FROM system_schema.keyspaces WHERE keyspace_name IN ('a', 'b')"
        ) == [
            ("a", {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "east": "1"}),
            ("b", {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "east": "2"}),
        ]
