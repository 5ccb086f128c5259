"""The CQL engine called directly: statements, types, paging, TTL, prepared statements and errors."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from cassandra import util

from wsgi_cassandra.testing import cql
from wsgi_cassandra.testing.cql import UNSET, Engine, NodeInfo, Prepared, Rows, SchemaChange, SetKeyspace, Void

NODE = NodeInfo("127.0.0.1", 9042, uuid.UUID(int=1), ("0",))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock: Clock) -> Engine:
    engine = Engine(clock=clock)
    engine.execute(
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        keyspace=None,
        node=NODE,
        protocol_version=4,
    )
    return engine


def run(engine: Engine, query: str, values: Any = None, **kw: Any) -> Any:
    return engine.execute(query, values, keyspace="ks", node=NODE, protocol_version=4, **kw)


def rows(engine: Engine, query: str, values: Any = None) -> list[list[Any]]:
    result = run(engine, query, values)
    assert isinstance(result, Rows)
    return result.rows


def bind(prepared: Prepared, *values: Any) -> list[Any]:
    return [
        v if v is UNSET else c.cqltype.to_binary(v, 4) if v is not None else None
        for c, v in zip(prepared.bind_columns, values)
    ]


def test_ddl_results_and_use(engine: Engine) -> None:
    assert run(engine, "USE ks") == SetKeyspace("ks")
    assert run(engine, 'USE "ks"') == SetKeyspace("ks")
    assert run(engine, "CREATE TABLE t (k int PRIMARY KEY)") == SchemaChange("CREATED", "TABLE", "ks", "t")
    assert run(engine, "CREATE TABLE IF NOT EXISTS t (k int PRIMARY KEY)") == Void()
    with pytest.raises(cql.AlreadyExists) as info:
        run(engine, "CREATE TABLE ks.t (k int PRIMARY KEY)")
    assert (info.value.keyspace, info.value.table) == ("ks", "t")
    with pytest.raises(cql.AlreadyExists) as ks_info:
        run(engine, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    assert (ks_info.value.keyspace, ks_info.value.table) == ("ks", "")
    assert run(engine, "DROP TABLE t") == SchemaChange("DROPPED", "TABLE", "ks", "t")
    assert run(engine, "DROP TABLE IF EXISTS t") == Void()
    with pytest.raises(cql.InvalidRequest, match="unconfigured table t"):
        run(engine, "SELECT * FROM t")
    assert run(engine, "DROP KEYSPACE ks") == SchemaChange("DROPPED", "KEYSPACE", "ks")
    with pytest.raises(cql.InvalidRequest, match="Keyspace 'ks' does not exist"):
        run(engine, "USE ks")


def test_quoted_identifiers_and_case_insensitivity(engine: Engine) -> None:
    run(engine, 'CREATE TABLE "MyTable" ("Key" text PRIMARY KEY, Value int)')
    run(engine, "insert into \"MyTable\" (\"Key\", VALUE) values ('it''s', 1)")
    assert rows(engine, 'SELECT "Key", value FROM ks."MyTable"') == [["it's", 1]]
    with pytest.raises(cql.InvalidRequest, match="unconfigured table mytable"):
        run(engine, "SELECT * FROM MyTable")


@pytest.fixture
def clustered(engine: Engine) -> Engine:
    run(
        engine,
        "CREATE TABLE c (p text, a int, b text, v int, PRIMARY KEY ((p), a, b)) "
        "WITH CLUSTERING ORDER BY (a DESC, b ASC)",
    )
    for p in ("x", "y"):
        for a in range(3):
            for b in ("m", "n"):
                run(engine, f"INSERT INTO c (p, a, b, v) VALUES ('{p}', {a}, '{b}', {a * 10})")
    return engine


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param("p = 'x'", [(2, "m"), (2, "n"), (1, "m"), (1, "n"), (0, "m"), (0, "n")], id="partition"),
        pytest.param("p = 'x' AND a = 1", [(1, "m"), (1, "n")], id="eq"),
        pytest.param("p = 'x' AND a IN (0, 2)", [(2, "m"), (2, "n"), (0, "m"), (0, "n")], id="in"),
        pytest.param("p = 'x' AND a > 0", [(2, "m"), (2, "n"), (1, "m"), (1, "n")], id="gt"),
        pytest.param("p = 'x' AND a >= 1 AND a < 2", [(1, "m"), (1, "n")], id="range"),
        pytest.param("p = 'x' AND a <= 0", [(0, "m"), (0, "n")], id="le"),
        pytest.param("p = 'x' AND a = 1 AND b = 'n'", [(1, "n")], id="full-key"),
        pytest.param("p = 'x' AND a = 1 AND b > 'm'", [(1, "n")], id="eq-then-slice"),
        pytest.param(
            "p = 'x' ORDER BY a ASC", [(0, "n"), (0, "m"), (1, "n"), (1, "m"), (2, "n"), (2, "m")], id="order-reversed"
        ),
        pytest.param("p = 'x' AND a = 1 ORDER BY a DESC, b ASC", [(1, "m"), (1, "n")], id="order-declared"),
        pytest.param("p = 'x' LIMIT 3", [(2, "m"), (2, "n"), (1, "m")], id="limit"),
        pytest.param("p = 'x' AND v = 10 ALLOW FILTERING", [(1, "m"), (1, "n")], id="filtering"),
    ],
)
def test_select_where_forms(clustered: Engine, where: str, expected: list[tuple[int, str]]) -> None:
    assert [tuple(r) for r in rows(clustered, f"SELECT a, b FROM c WHERE {where}")] == expected


def test_select_count_alias_distinct_and_token_order(clustered: Engine) -> None:
    assert rows(clustered, "SELECT COUNT(*) FROM c") == [[12]]
    result = run(clustered, "SELECT count(1) AS n FROM c WHERE p = 'y'")
    assert result.rows == [[6]]
    assert result.columns[0].name == "n"
    assert rows(clustered, "SELECT v AS value FROM c WHERE p = 'y' AND a = 2 AND b = 'm'") == [[20]]
    from cassandra.murmur3 import murmur3

    expected = sorted(["x", "y"], key=lambda k: murmur3(k.encode()))
    assert rows(clustered, "SELECT DISTINCT p FROM c") == [[k] for k in expected]
    assert [r[0] for r in rows(clustered, "SELECT p FROM c PER PARTITION LIMIT 1")] == expected


def test_paging_is_stable_and_covers_every_row(clustered: Engine) -> None:
    seen, state, pages = [], None, 0
    for _ in range(10):  # 13 rows at 5 a page: 3 pages; a state that never ends fails below
        result = run(clustered, "SELECT p, a, b FROM c", page_size=5, paging_state=state)
        seen += [tuple(r) for r in result.rows]
        pages += 1
        state = result.paging_state
        if state is None:
            break
        # a write between pages does not disturb the position
        run(clustered, "INSERT INTO c (p, a, b, v) VALUES ('x', 9, 'z', 0)") if pages == 1 else None
    assert pages == 3
    assert len(seen) == len(set(seen)) == 13
    again = run(clustered, "SELECT a FROM c WHERE p = 'x' LIMIT 4", page_size=3)
    rest = run(clustered, "SELECT a FROM c WHERE p = 'x' LIMIT 4", page_size=3, paging_state=again.paging_state)
    assert len(again.rows) == 3
    assert len(rest.rows) == 1
    assert rest.paging_state is None


def test_ttl_expires_cells_and_rows(engine: Engine, clock: Clock) -> None:
    run(engine, "CREATE TABLE t (k int PRIMARY KEY, v text, w text)")
    run(engine, "INSERT INTO t (k, v) VALUES (1, 'a') USING TTL 10")
    run(engine, "UPDATE t USING TTL 100 SET w = 'b' WHERE k = 1")
    assert rows(engine, "SELECT v, w, ttl(v), writetime(w) FROM t WHERE k = 1")[0][:3] == ["a", "b", 10]
    clock.now += 11
    assert rows(engine, "SELECT k, v, w FROM t") == [[1, None, "b"]]
    clock.now += 100
    assert rows(engine, "SELECT * FROM t") == []


def test_timestamps_last_write_wins(engine: Engine) -> None:
    run(engine, "CREATE TABLE t (k int PRIMARY KEY, v text)")
    run(engine, "INSERT INTO t (k, v) VALUES (1, 'new') USING TIMESTAMP 2000")
    run(engine, "INSERT INTO t (k, v) VALUES (1, 'old') USING TIMESTAMP 1000")
    assert rows(engine, "SELECT v, writetime(v) FROM t WHERE k = 1") == [["new", 2000]]


def test_lightweight_transactions(engine: Engine) -> None:
    run(engine, "CREATE TABLE t (k int PRIMARY KEY, v text)")
    first = run(engine, "INSERT INTO t (k, v) VALUES (1, 'a') IF NOT EXISTS")
    assert [c.name for c in first.columns] == ["[applied]"]
    assert first.rows == [[True]]
    second = run(engine, "INSERT INTO t (k, v) VALUES (1, 'b') IF NOT EXISTS")
    assert [c.name for c in second.columns] == ["[applied]", "k", "v"]
    assert second.rows == [[False, 1, "a"]]
    assert run(engine, "UPDATE t SET v = 'c' WHERE k = 2 IF EXISTS").rows == [[False]]
    assert run(engine, "UPDATE t SET v = 'c' WHERE k = 1 IF EXISTS").rows == [[True]]
    assert rows(engine, "SELECT * FROM t") == [[1, "c"]]


def test_update_delete_truncate_and_collections(engine: Engine) -> None:
    run(
        engine,
        "CREATE TABLE t (k int, c int, s text static, l list<int>, st set<text>, m map<text, int>, PRIMARY KEY (k, c))",
    )
    run(engine, "UPDATE t SET l = [1], st = {'b'}, m = {'x': 1} WHERE k = 1 AND c = 1")
    run(engine, "UPDATE t SET l = l + [2], st = st + {'a'}, m = m + {'y': 2} WHERE k = 1 AND c = 1")
    run(engine, "UPDATE t SET l = [0] + l, m = m - {'x'} WHERE k = 1 AND c = 1")
    assert rows(engine, "SELECT l, st, m FROM t WHERE k = 1 AND c = 1") == [
        [[0, 1, 2], util.sortedset(["a", "b"]), {"y": 2}]
    ]
    run(engine, "INSERT INTO t (k, s) VALUES (2, 'static only')")
    assert rows(engine, "SELECT k, c, s FROM t WHERE k = 2") == [[2, None, "static only"]]
    run(engine, "DELETE l FROM t WHERE k = 1 AND c = 1")
    assert rows(engine, "SELECT l, m FROM t WHERE k = 1 AND c = 1") == [[None, {"y": 2}]]
    run(engine, "DELETE FROM t WHERE k = 1 AND c = 1")
    assert rows(engine, "SELECT * FROM t WHERE k = 1") == []
    run(engine, "TRUNCATE t")
    assert rows(engine, "SELECT COUNT(*) FROM t") == [[0]]


def test_counters(engine: Engine) -> None:
    run(engine, "CREATE TABLE n (k text PRIMARY KEY, hits counter)")
    for _ in range(3):
        run(engine, "UPDATE n SET hits = hits + 2 WHERE k = 'a'")
    run(engine, "UPDATE n SET hits = hits - 1 WHERE k = 'a'")
    assert rows(engine, "SELECT hits FROM n WHERE k = 'a'") == [[5]]


TYPES = [
    pytest.param("text", "héllo", "'héllo'", id="text"),
    pytest.param("ascii", "abc", "'abc'", id="ascii"),
    pytest.param("varchar", "v", "'v'", id="varchar"),
    pytest.param("int", -5, "-5", id="int"),
    pytest.param("bigint", 2**40, str(2**40), id="bigint"),
    pytest.param("smallint", 300, "300", id="smallint"),
    pytest.param("tinyint", -3, "-3", id="tinyint"),
    pytest.param("boolean", True, "true", id="boolean"),
    pytest.param("float", 1.5, "1.5", id="float"),
    pytest.param("double", -2.25, "-2.25", id="double"),
    pytest.param("decimal", Decimal("3.14159"), "3.14159", id="decimal"),
    pytest.param("varint", 2**70, str(2**70), id="varint"),
    pytest.param("uuid", uuid.UUID(int=7), str(uuid.UUID(int=7)), id="uuid"),
    pytest.param(
        "timeuuid",
        uuid.UUID("d2177dd0-eaa2-11de-a572-001b779c76e3"),
        "d2177dd0-eaa2-11de-a572-001b779c76e3",
        id="timeuuid",
    ),
    pytest.param(
        "timestamp", datetime.datetime(2024, 5, 6, 7, 8, 9, 123000), "'2024-05-06 07:08:09.123+0000'", id="timestamp"
    ),
    pytest.param("date", util.Date(datetime.date(2024, 2, 29)), "'2024-02-29'", id="date"),
    pytest.param("time", util.Time("12:34:56.789"), "'12:34:56.789'", id="time"),
    pytest.param("blob", b"\x00\xff", "0x00ff", id="blob"),
    pytest.param("inet", "10.1.2.3", "'10.1.2.3'", id="inet"),
    pytest.param("list<int>", [3, 1, 3], "[3, 1, 3]", id="list"),
    pytest.param("set<text>", util.sortedset(["b", "a"]), "{'b', 'a'}", id="set"),
    pytest.param("map<text, int>", {"a": 1, "b": 2}, "{'b': 2, 'a': 1}", id="map"),
    pytest.param("frozen<list<frozen<set<int>>>>", [util.sortedset([2, 1])], "[{1, 2}]", id="frozen-nested"),
]


@pytest.mark.parametrize(("cql_type", "value", "literal"), TYPES)
def test_every_type_round_trips_as_bound_value_and_literal(
    engine: Engine, cql_type: str, value: Any, literal: str
) -> None:
    run(engine, f"CREATE TABLE t (k int PRIMARY KEY, v {cql_type})")
    insert = engine.prepare("INSERT INTO t (k, v) VALUES (?, ?)", keyspace="ks", node=NODE)
    assert [c.name for c in insert.bind_columns] == ["k", "v"]
    assert insert.pk_indexes == [0]
    engine.execute_prepared(insert.query_id, bind(insert, 1, value), keyspace="ks", node=NODE, protocol_version=4)
    run(engine, f"INSERT INTO t (k, v) VALUES (2, {literal})")
    result = run(engine, "SELECT v FROM t WHERE k IN (1, 2)")
    column = result.columns[0]
    assert column.cqltype.cql_parameterized_type().replace("varchar", "text") == cql_type.replace(
        "varchar", "text"
    ).replace("frozen<list<frozen<set<int>>>>", "list<set<int>>")
    for (stored,) in result.rows:
        assert column.cqltype.from_binary(column.cqltype.to_binary(stored, 4), 4) == value


def test_prepared_select_named_markers_unset_and_cache(engine: Engine) -> None:
    run(engine, "CREATE TABLE t (a int, b text, v text, PRIMARY KEY ((a, b)))")
    insert = engine.prepare("INSERT INTO t (a, b, v) VALUES (:a, :b, :v)", keyspace="ks", node=NODE)
    assert insert.pk_indexes == [0, 1]
    assert insert.result_columns is None
    assert (
        engine.prepare("INSERT INTO t (a, b, v) VALUES (:a, :b, :v)", keyspace="ks", node=NODE).query_id
        == insert.query_id
    )
    engine.execute_prepared(
        insert.query_id, bind(insert, 1, "x", "first"), keyspace="ks", node=NODE, protocol_version=4
    )
    engine.execute_prepared(insert.query_id, bind(insert, 1, "x", UNSET), keyspace="ks", node=NODE, protocol_version=4)
    select = engine.prepare("SELECT v FROM t WHERE a = ? AND b = ? LIMIT ?", keyspace="ks", node=NODE)
    assert [c.name for c in select.bind_columns] == ["a", "b", "[limit]"]
    assert [c.name for c in select.result_columns or []] == ["v"]
    result = engine.execute_prepared(
        select.query_id, bind(select, 1, "x", 10), keyspace=None, node=NODE, protocol_version=4
    )
    assert result.rows == [["first"]]
    by_name = run(engine, "SELECT v FROM t WHERE a = :a AND b = :b", {"a": b"\x00\x00\x00\x01", "b": b"x"})
    assert by_name.rows == [["first"]]
    in_marker = engine.prepare("SELECT v FROM t WHERE a = ? AND b IN ?", keyspace="ks", node=NODE)
    assert in_marker.bind_columns[1].name == "in(b)"


def test_unknown_prepared_id_and_dropped_table_are_unprepared(engine: Engine) -> None:
    with pytest.raises(cql.Unprepared) as info:
        engine.execute_prepared(b"nope", [], keyspace="ks", node=NODE, protocol_version=4)
    assert info.value.query_id == b"nope"
    run(engine, "CREATE TABLE t (k int PRIMARY KEY)")
    select = engine.prepare("SELECT * FROM t WHERE k = ?", keyspace="ks", node=NODE)
    run(engine, "DROP TABLE t")
    with pytest.raises(cql.Unprepared):
        engine.execute_prepared(select.query_id, bind(select, 1), keyspace="ks", node=NODE, protocol_version=4)


def test_batch_of_text_and_prepared_statements(engine: Engine) -> None:
    run(engine, "CREATE TABLE t (k int PRIMARY KEY, v text)")
    insert = engine.prepare("INSERT INTO t (k, v) VALUES (?, ?)", keyspace="ks", node=NODE)
    result = engine.batch(
        [
            (insert.query_id, bind(insert, 1, "a")),
            ("INSERT INTO t (k, v) VALUES (2, 'b')", []),
            ("DELETE FROM t WHERE k = ?", [b"\x00\x00\x00\x01"]),
        ],
        keyspace="ks",
        node=NODE,
        protocol_version=4,
    )
    assert result == Void()
    run(engine, "BEGIN BATCH INSERT INTO t (k, v) VALUES (3, 'c'); UPDATE t SET v = ? WHERE k = 2; APPLY BATCH", [b"B"])
    assert sorted(rows(engine, "SELECT k, v FROM t")) == [[2, "B"], [3, "c"]]


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        pytest.param("SELEC * FROM t", cql.CQLSyntaxError, "'SELEC'", id="bad-keyword"),
        pytest.param("SELECT * FORM t", cql.CQLSyntaxError, "'FORM'", id="names-token"),
        pytest.param("SELECT * FROM t WHERE", cql.CQLSyntaxError, "end of input", id="truncated"),
        pytest.param("SELECT * FROM nope", cql.InvalidRequest, "unconfigured table nope", id="unknown-table"),
        pytest.param("SELECT nope FROM t", cql.InvalidRequest, "Undefined column name nope", id="unknown-column"),
        pytest.param("SELECT * FROM t WHERE v = 'a'", cql.InvalidRequest, "ALLOW FILTERING", id="filtering"),
        pytest.param("SELECT * FROM t WHERE k > 1", cql.InvalidRequest, "Only EQ and IN", id="pk-range"),
        pytest.param(
            "INSERT INTO t (v) VALUES ('a')",
            cql.InvalidRequest,
            "partition key parts are missing: k",
            id="missing-key",
        ),
        pytest.param(
            "INSERT INTO t (k, v) VALUES ('x', 'a')", cql.InvalidRequest, "Invalid STRING constant", id="bad-literal"
        ),
        pytest.param(
            "CREATE CUSTOM INDEX ON t (v) USING 'org.apache.cassandra.index.sasi.SASIIndex'",
            cql.InvalidRequest,
            "SASI indexes are disabled",
            id="sasi-index",
        ),
        pytest.param(
            "ALTER TABLE t ALTER v TYPE blob",
            cql.InvalidRequest,
            "Altering column types is no longer",
            id="alter-type",
        ),
        pytest.param("ALTER TABLE t DROP k", cql.InvalidRequest, "Cannot drop PRIMARY KEY column k", id="drop-key"),
        pytest.param(
            "SELECT k FROM t WHERE v LIKE 'a%' ALLOW FILTERING",
            cql.CQLSyntaxError,
            "LIKE relations are not supported",
            id="like",
        ),
        pytest.param(
            "INSERT INTO system.local (key) VALUES ('x')", cql.Unauthorized, "not user-modifiable", id="system"
        ),
        pytest.param("SELECT * FROM t WHERE k = 1 AND k = ?", cql.InvalidRequest, "markers", id="bind-count"),
    ],
)
def test_errors_are_cql_errors_naming_the_problem(engine: Engine, query: str, error: type, message: str) -> None:
    run(engine, "CREATE TABLE t (k int PRIMARY KEY, v text)")
    with pytest.raises(error, match=message):
        run(engine, query)


def test_unexpected_exceptions_become_server_errors(engine: Engine, clock: Clock) -> None:
    run(engine, "CREATE TABLE t (k int PRIMARY KEY)")
    clock.now = float("nan")  # a broken clock: the write time cannot be computed
    with pytest.raises(cql.ServerError, match="ValueError"):
        run(engine, "INSERT INTO t (k) VALUES (1)")
