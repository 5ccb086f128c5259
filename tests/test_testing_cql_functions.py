"""The CQL test server's values, functions, aggregates, JSON, LWT conditions and token scans, through the driver.

Each test reads back through the unmodified driver what a Cassandra 4.0 node answers to the same CQL (the
expected values come from the recorded corpus of issue 12 or from Cassandra's own function definitions).
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from cassandra import InvalidRequest, util
from cassandra.cluster import Cluster
from cassandra.metadata import Murmur3Token
from cassandra.query import BatchStatement, SimpleStatement, tuple_factory

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cassandra.cluster import Session

    from wsgi_cassandra.testing import CQLServer

pytestmark = pytest.mark.integration
_keyspaces = itertools.count()


@pytest.fixture
def session(cql_server_session: CQLServer) -> Iterator[Session]:
    """A driver session on a fresh keyspace of the shared server (tuple rows), shut down after the test."""
    cluster = Cluster(contact_points=[cql_server_session.host], port=cql_server_session.port)
    try:
        sess = cluster.connect()
        name = f"fn_{next(_keyspaces)}_{uuid.uuid4().hex[:8]}"
        sess.execute(
            f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
        sess.set_keyspace(name)
        sess.row_factory = tuple_factory
        yield sess
        with contextlib.suppress(Exception):
            sess.execute(f"DROP KEYSPACE {name}")
    finally:
        cluster.shutdown()


def rows(session: Session, query: Any, *values: Any) -> list[tuple[Any, ...]]:
    """The rows of ``query``; a text query with values is prepared, so they travel bound."""
    if values and isinstance(query, str):
        query = session.prepare(query)
    return list(session.execute(query, values or None))


def test_literals_of_every_native_type_duration_tuple_and_date_as_integer(session: Session) -> None:
    session.execute(
        "CREATE TABLE t (k int PRIMARY KEY, d date, du duration, ts timestamp, i inet, f float, bl blob, "
        "tu tuple<int, text>, tx text)"
    )
    session.execute(
        "INSERT INTO t (k, d, du, ts, i, f, bl, tu, tx) VALUES "
        "(1, 2147503430, 1h30m, '2024-01-02T03:04:05.123Z', '::1', 3.4e38, 0x, (7, 'x'), 'it''s')"
    )
    session.execute("INSERT INTO t (k, du) VALUES (2, P1Y2M3DT4H)")
    rows(session, "INSERT INTO t (k, du, tu) VALUES (3, ?, ?)", util.Duration(0, 1, 5), (1, None))
    [row] = rows(session, "SELECT d, du, ts, i, f, bl, tu, tx FROM t WHERE k = 1")
    assert row[0] == util.Date(datetime.date(2024, 2, 29))
    assert row[1] == util.Duration(0, 0, 5_400_000_000_000)
    assert row[2] == datetime.datetime(2024, 1, 2, 3, 4, 5, 123000)
    assert row[3:] == ("::1", pytest.approx(3.4e38), b"", (7, "x"), "it's")
    assert rows(session, "SELECT du FROM t WHERE k = 2") == [(util.Duration(14, 3, 4 * 3600 * 10**9),)]
    assert rows(session, "SELECT du, tu FROM t WHERE k = 3") == [(util.Duration(0, 1, 5), (1, None))]
    result = session.execute("SELECT tx FROM t WHERE k = 1")
    assert [t.typename for t in result.column_types] == ["varchar"]  # as a 4.0 node names a text column


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("INSERT INTO t (k, ti) VALUES (1, 300)", "Unable to make byte from .300.", id="tinyint-range"),
        pytest.param("INSERT INTO t (k, i) VALUES (1, 'not-an-ip')", "Unable to make inet address", id="inet"),
        pytest.param("INSERT INTO t (k, u) VALUES (1, 'not-a-uuid')", "Invalid STRING constant", id="uuid"),
        pytest.param("INSERT INTO t (k, tx) VALUES (1, 5)", "Invalid INTEGER constant", id="text"),
        pytest.param("INSERT INTO t (k, du) VALUES (1, 5)", "Invalid INTEGER constant", id="duration"),
    ],
)
def test_bad_literals_are_invalid_requests(session: Session, query: str, message: str) -> None:
    session.execute("CREATE TABLE t (k int PRIMARY KEY, ti tinyint, i inet, u uuid, tx text, du duration)")
    with pytest.raises(InvalidRequest, match=message):
        session.execute(query)


def test_collection_element_operations(session: Session) -> None:
    session.execute("CREATE TABLE c (k int PRIMARY KEY, l list<text>, s set<int>, m map<text, int>)")
    session.execute("INSERT INTO c (k, l, s, m) VALUES (1, ['a', 'b', 'c'], {1, 2}, {'one': 1, 'two': 2})")
    session.execute("UPDATE c SET l[0] = 'A', m['one'] = 11 WHERE k = 1")
    session.execute(session.prepare("UPDATE c SET m[?] = ? WHERE k = ?"), ("three", 3, 1))
    assert rows(session, "SELECT l, m FROM c WHERE k = 1") == [(["A", "b", "c"], {"one": 11, "three": 3, "two": 2})]
    session.execute("DELETE l[1], m['two'], s[2] FROM c WHERE k = 1")
    assert rows(session, "SELECT l, s, m FROM c WHERE k = 1") == [(["A", "c"], {1}, {"one": 11, "three": 3})]
    assert rows(session, "SELECT m['one'], m['nope'], s[1] FROM c WHERE k = 1") == [(11, None, 1)]
    assert rows(session, session.prepare("SELECT m[?] FROM c WHERE k = ?"), "three", 1) == [(3,)]
    with pytest.raises(InvalidRequest, match="List index 7 out of bound, list has size 2"):
        session.execute("UPDATE c SET l[7] = 'x' WHERE k = 1")


def test_lightweight_transaction_conditions_answer_like_cassandra(session: Session) -> None:
    session.execute("CREATE TABLE acct (id int PRIMARY KEY, owner text, balance int, version int)")
    session.execute("INSERT INTO acct (id, owner, balance, version) VALUES (1, 'ann', 100, 1)")
    update = session.prepare("UPDATE acct SET balance = ?, version = ? WHERE id = ? IF version = ?")
    assert rows(session, update, 80, 2, 1, 1) == [(True,)]
    assert rows(session, update, 70, 3, 1, 1) == [(False, 2)]
    result = session.execute("UPDATE acct SET owner = 'x' WHERE id = 1 IF owner != 'ann' AND balance > 10")
    assert result.column_names == ["[applied]", "owner", "balance"]
    assert list(result) == [(False, "ann", 80)]
    assert rows(session, "UPDATE acct SET owner = 'zed' WHERE id = 1 IF owner IN ('ann', 'amy')") == [(True,)]
    assert rows(session, "UPDATE acct SET balance = 1 WHERE id = 5 IF balance = null") == [(True,)]
    assert rows(session, "DELETE FROM acct WHERE id = 7 IF balance = 1") == [(False,)]  # no row: [applied] only
    assert rows(session, "DELETE FROM acct WHERE id = 1 IF EXISTS") == [(True,)]
    assert rows(session, "SELECT id, balance FROM acct") == [(5, 1)]
    with pytest.raises(InvalidRequest, match="IN on the partition key is not supported with conditional updates"):
        session.execute("UPDATE acct SET balance = 2 WHERE id IN (5, 6) IF balance = 1")


def test_conditional_batches_apply_all_or_nothing_in_one_partition(session: Session) -> None:
    session.execute("CREATE TABLE b (k int, c int, v text, PRIMARY KEY (k, c))")
    first = BatchStatement()
    first.add("INSERT INTO b (k, c, v) VALUES (3, 1, 'x') IF NOT EXISTS")
    first.add(session.prepare("INSERT INTO b (k, c, v) VALUES (?, ?, ?)"), (3, 2, "y"))
    assert rows(session, first) == [(True,)]
    again = (
        "BEGIN BATCH INSERT INTO b (k, c, v) VALUES (3, 1, 'z') IF NOT EXISTS; "
        "INSERT INTO b (k, c, v) VALUES (3, 3, 'w'); APPLY BATCH"
    )
    assert rows(session, again) == [(False, 3, 1, "x")]
    assert rows(session, "SELECT c, v FROM b WHERE k = 3") == [(1, "x"), (2, "y")]
    with pytest.raises(InvalidRequest, match="cannot span multiple partitions"):
        session.execute(
            "BEGIN BATCH INSERT INTO b (k, c, v) VALUES (4, 1, 'x') IF NOT EXISTS; "
            "INSERT INTO b (k, c, v) VALUES (5, 1, 'y') IF NOT EXISTS; APPLY BATCH"
        )
    session.execute("BEGIN BATCH USING TIMESTAMP 5 INSERT INTO b (k, c, v) VALUES (6, 1, 'old'); APPLY BATCH")
    assert rows(session, "SELECT writetime(v) FROM b WHERE k = 6") == [(5,)]


def test_aggregates_and_group_by(session: Session) -> None:
    session.execute(
        "CREATE TABLE sales (shop text, day int, item text, qty int, price decimal, PRIMARY KEY (shop, day, item))"
    )
    for shop, day, item, qty, price in [
        ("s1", 1, "a", 2, "1.50"),
        ("s1", 1, "b", 5, "2.25"),
        ("s1", 2, "a", 1, "1.50"),
        ("s2", 1, "c", 7, "9.99"),
    ]:
        session.execute(
            f"INSERT INTO sales (shop, day, item, qty, price) VALUES ('{shop}', {day}, '{item}', {qty}, {price})"
        )
    result = session.execute("SELECT count(*), sum(qty), min(qty), max(qty), avg(qty) FROM sales WHERE shop = 's1'")
    assert result.column_names == ["count", "system.sum(qty)", "system.min(qty)", "system.max(qty)", "system.avg(qty)"]
    assert list(result) == [(3, 8, 1, 5, 2)]
    assert rows(session, "SELECT sum(price), avg(price), max(item) FROM sales WHERE shop = 's1'") == [
        (Decimal("5.25"), Decimal("1.75"), "b")
    ]
    assert rows(session, "SELECT day, sum(qty) FROM sales WHERE shop = 's1' GROUP BY day") == [(1, 7), (2, 1)]
    assert sorted(rows(session, "SELECT shop, count(*) FROM sales GROUP BY shop")) == [("s1", 3), ("s2", 1)]
    assert rows(session, "SELECT count(1), max(qty) FROM sales WHERE shop = 'nope'") == [(0, None)]


def test_native_functions(session: Session) -> None:
    session.execute("CREATE TABLE fn (k int PRIMARY KEY, t timeuuid, ts timestamp, b blob, s text)")
    session.execute("INSERT INTO fn (k, t, ts, b, s) VALUES (1, now(), toTimestamp(now()), textAsBlob('hi'), 'x')")
    insert = session.prepare("INSERT INTO fn (k, t, ts, b, s) VALUES (?, ?, ?, textAsBlob(?), ?)")
    stamp = datetime.datetime(2024, 5, 6, 7, 8, 9)
    session.execute(insert, (2, uuid.UUID("e2a5cd20-5f1a-11ee-8c99-0242ac120002"), stamp, "hi", "y"))
    assert rows(session, "SELECT toDate(t), toTimestamp(t), toUnixTimestamp(t), blobAsText(b) FROM fn WHERE k = 2") == [
        (util.Date(datetime.date(2023, 9, 29)), datetime.datetime(2023, 9, 29, 22, 52, 37, 136000), 1696027957136, "hi")
    ]
    assert rows(session, "SELECT CAST(k AS text), CAST(k AS double), CAST(ts AS date) FROM fn WHERE k = 2") == [
        ("2", 2.0, util.Date(datetime.date(2024, 5, 6)))
    ]
    bounds = rows(
        session,
        "SELECT minTimeuuid('2024-01-01 00:00:00+0000'), maxTimeuuid('2024-01-01 00:00:00+0000') FROM fn WHERE k = 2",
    )
    assert bounds == [
        (uuid.UUID("b4cc8000-a838-11ee-8080-808080808080"), uuid.UUID("b4cca70f-a838-11ee-7f7f-7f7f7f7f7f7f"))
    ]
    assert rows(
        session, "SELECT k FROM fn WHERE k = 1 AND t > minTimeuuid('2020-01-01 00:00:00+0000') ALLOW FILTERING"
    ) == [(1,)]
    [(now_uuid, today)] = rows(session, "SELECT now(), currentDate() FROM fn WHERE k = 1")
    assert now_uuid.version == 1
    assert isinstance(today, util.Date)
    for unknown in ("nosuchfn(k)", "typeAsBlob(s)"):
        with pytest.raises(InvalidRequest, match="Unknown function"):
            session.execute(f"SELECT {unknown} FROM fn WHERE k = 2")


def test_json_in_and_out(session: Session) -> None:
    session.execute("CREATE TABLE js (id int, c text, m map<text, int>, l list<text>, d date, PRIMARY KEY (id, c))")
    session.execute("""INSERT INTO js JSON '{"id": 1, "c": "a", "m": {"x": 1}, "l": ["p", "q"], "d": "2024-01-02"}'""")
    session.execute(session.prepare("INSERT INTO js JSON ?"), ('{"id": 1, "c": "b"}',))
    assert rows(session, "SELECT JSON * FROM js WHERE id = 1") == [
        ('{"id": 1, "c": "a", "d": "2024-01-02", "l": ["p", "q"], "m": {"x": 1}}',),
        ('{"id": 1, "c": "b", "d": null, "l": null, "m": null}',),
    ]
    session.execute("""INSERT INTO js JSON '{"id": 1, "c": "a"}' DEFAULT UNSET""")
    assert rows(session, "SELECT toJson(m), toJson(d) FROM js WHERE id = 1 AND c = 'a'") == [
        ('{"x": 1}', '"2024-01-02"')
    ]
    session.execute("""INSERT INTO js (id, c, m) VALUES (2, 'z', fromJson('{"k": 5}'))""")
    assert rows(session, "SELECT m FROM js WHERE id = 2") == [({"k": 5},)]
    with pytest.raises(InvalidRequest, match="unrecognized column: nosuch"):
        session.execute("""INSERT INTO js JSON '{"id": 3, "c": "d", "nosuch": 1}'""")
    with pytest.raises(InvalidRequest, match="Could not decode JSON"):
        session.execute("INSERT INTO js JSON 'not json'")


def test_scans_in_token_order_and_token_restrictions(session: Session) -> None:
    session.execute("CREATE TABLE sc (k int, c int, v text, PRIMARY KEY (k, c))")
    insert = session.prepare("INSERT INTO sc (k, c, v) VALUES (?, ?, 'v')")
    for k in range(40):
        session.execute(insert, (k, 1))
    tokens = {k: Murmur3Token.from_key(k.to_bytes(4, "big", signed=True)).value for k in range(40)}
    by_token = sorted(range(40), key=tokens.__getitem__)
    scanned = rows(session, SimpleStatement("SELECT k, token(k) FROM sc", fetch_size=7))
    assert scanned == [(k, tokens[k]) for k in by_token]
    after = rows(session, "SELECT k FROM sc WHERE token(k) > token(?)", by_token[9])
    assert [k for (k,) in after] == by_token[10:]
    window = rows(
        session, "SELECT k FROM sc WHERE token(k) > ? AND token(k) <= ?", tokens[by_token[4]], tokens[by_token[8]]
    )
    assert [k for (k,) in window] == by_token[5:9]
    assert rows(session, "SELECT k FROM sc WHERE k IN (5, 1, 3)") == [(1,), (3,), (5,)]  # IN: key order
    assert rows(session, "SELECT DISTINCT token(k), k FROM sc LIMIT 3") == [(tokens[k], k) for k in by_token[:3]]


def test_multi_column_clustering_relations(session: Session) -> None:
    session.execute("CREATE TABLE r (p int, c1 int, c2 int, v int, PRIMARY KEY (p, c1, c2))")
    for c1, c2 in [(1, 1), (1, 2), (2, 1), (2, 2)]:
        session.execute("INSERT INTO r (p, c1, c2, v) VALUES (1, %s, %s, 0)", (c1, c2))
    assert rows(session, "SELECT c1, c2 FROM r WHERE p = 1 AND (c1, c2) > (1, 1)") == [(1, 2), (2, 1), (2, 2)]
    assert rows(session, "SELECT c1, c2 FROM r WHERE p = 1 AND (c1, c2) >= (1, 2) AND (c1, c2) < (2, 2)") == [
        (1, 2),
        (2, 1),
    ]
    assert rows(session, "SELECT c1, c2 FROM r WHERE p = 1 AND (c1, c2) IN ((2, 2), (1, 1))") == [(1, 1), (2, 2)]
    with pytest.raises(InvalidRequest, match="ALLOW FILTERING"):
        session.execute("SELECT c1 FROM r WHERE c1 = 1")
