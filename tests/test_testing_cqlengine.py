"""A cqlengine application (the driver's object mapper) runs on the CQL test server as on a Cassandra 4.0 node.

``sync_table`` reads the schema back through the driver's metadata and issues CREATE TABLE, CREATE TYPE,
CREATE INDEX and ALTER TABLE ADD for a model that gained a column; then the app creates, reads (by key, through
an index, page by page), updates, counts and deletes rows, with TTLs, IF NOT EXISTS, conditions (``iff``), user-defined
type values and batches.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from cassandra.cqlengine import columns, connection, management, models, usertype
from cassandra.cqlengine.query import BatchQuery, LWTException

if TYPE_CHECKING:
    from collections.abc import Iterator

    from wsgi_cassandra.testing import CQLServer

pytestmark = pytest.mark.integration


class Address(usertype.UserType):
    __type_name__ = "address"
    street = columns.Text()
    zip = columns.Integer()


class User(models.Model):
    __table_name__ = "users"
    id = columns.UUID(primary_key=True, default=uuid.uuid4)
    email = columns.Text(index=True)
    name = columns.Text()
    home = columns.UserDefinedType(Address)


class UserWithAge(models.Model):
    """The same table after the app gained a column: sync_table adds it with ALTER TABLE."""

    __table_name__ = "users"
    id = columns.UUID(primary_key=True, default=uuid.uuid4)
    email = columns.Text(index=True)
    name = columns.Text()
    home = columns.UserDefinedType(Address)
    age = columns.Integer()


class Route(models.Model):
    """UDT values inside a collection and a tuple, written and read through the model."""

    name = columns.Text(primary_key=True)
    stops = columns.List(columns.UserDefinedType(Address))
    by_label = columns.Map(columns.Text(), columns.UserDefinedType(Address))
    start = columns.Tuple(columns.Text(), columns.UserDefinedType(Address))


class PageViews(models.Model):
    page = columns.Text(primary_key=True)
    views = columns.Counter()


class Event(models.Model):
    __options__ = {"default_time_to_live": "3600"}  # noqa: RUF012 - cqlengine reads a plain dict
    tenant = columns.Text(partition_key=True)
    seq = columns.Integer(primary_key=True, clustering_order="DESC")
    body = columns.Text()


@pytest.fixture
def app(cql_server: CQLServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[CQLServer]:
    monkeypatch.setenv("CQLENG_ALLOW_SCHEMA_MANAGEMENT", "1")
    connection.setup([cql_server.host], "app", port=cql_server.port, protocol_version=5)
    try:
        management.create_keyspace_simple("app", 1)
        for model in (User, UserWithAge, UserWithAge, PageViews, Event, Route):  # twice: a second sync changes nothing
            management.sync_table(model)
        yield cql_server
    finally:
        connection.unregister_connection("default")


def rows(query: str) -> list[tuple[object, ...]]:
    return [tuple(r.values()) for r in connection.execute(query)]


def test_sync_table_creates_the_type_the_index_and_the_added_column(app: CQLServer) -> None:
    assert rows("SELECT type_name, field_names FROM system_schema.types WHERE keyspace_name = 'app'") == [
        ("address", ["street", "zip"])
    ]
    assert rows(
        "SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = 'app' AND table_name = 'users'"
    ) == [
        ("age", "int"),
        ("email", "text"),
        ("home", "frozen<address>"),
        ("id", "uuid"),
        ("name", "text"),
    ]
    indexes = rows("SELECT table_name, options FROM system_schema.indexes WHERE keyspace_name = 'app'")
    assert indexes == [("users", {"target": "email"})]
    options = rows(
        "SELECT default_time_to_live FROM system_schema.tables WHERE keyspace_name = 'app' AND table_name = 'event'"
    )
    assert options == [(3600,)]


def test_create_get_filter_update_delete(app: CQLServer) -> None:
    ann = UserWithAge.create(email="ann@example.com", name="Ann", age=31)
    UserWithAge.create(email="bob@example.com", name="Bob")
    assert UserWithAge.get(id=ann.id).name == "Ann"
    found = UserWithAge.objects.filter(email="bob@example.com").get()  # through the secondary index
    assert (found.name, found.age) == ("Bob", None)
    UserWithAge.objects(id=ann.id).update(age=32)
    assert UserWithAge.get(id=ann.id).age == 32
    assert User.get(id=ann.id).name == "Ann"  # the model from before the column was added still reads
    ann.delete()
    assert UserWithAge.objects.filter(id=ann.id).count() == 0
    assert [u.name for u in UserWithAge.objects.all()] == ["Bob"]


def test_if_not_exists_refuses_a_second_insert(app: CQLServer) -> None:
    user = UserWithAge.if_not_exists().create(email="c@example.com", name="C")
    with pytest.raises(LWTException):
        UserWithAge.if_not_exists().create(id=user.id, email="other@example.com", name="D")
    assert UserWithAge.get(id=user.id).email == "c@example.com"


def test_iff_applies_only_when_the_condition_holds(app: CQLServer) -> None:
    user = UserWithAge.create(email="e@example.com", name="E", age=20)
    UserWithAge.objects(id=user.id).iff(age=20).update(age=21)
    assert UserWithAge.get(id=user.id).age == 21
    with pytest.raises(LWTException) as refused:
        UserWithAge.objects(id=user.id).iff(age=20).update(age=99)
    assert refused.value.existing == {"[applied]": False, "age": 21}  # Cassandra's answer: the current value
    assert UserWithAge.get(id=user.id).age == 21

    user = UserWithAge.get(id=user.id)
    user.iff(name="E").update(name="Eve")
    assert UserWithAge.get(id=user.id).name == "Eve"
    with pytest.raises(LWTException):
        user.iff(name="nobody").delete()
    assert UserWithAge.objects.filter(id=user.id).count() == 1
    user.iff(name="Eve").delete()
    assert UserWithAge.objects.filter(id=user.id).count() == 0


def test_udt_values_are_written_and_read_back(app: CQLServer) -> None:
    user = UserWithAge.create(email="u@example.com", name="U", home=Address(street="1 Main St", zip=12345))
    home = UserWithAge.get(id=user.id).home
    assert (home.street, home.zip) == ("1 Main St", 12345)
    UserWithAge.objects(id=user.id).update(home=Address(street="2 Side St"))
    home = UserWithAge.get(id=user.id).home
    assert (home.street, home.zip) == ("2 Side St", None)
    assert rows(f"SELECT home.street, home.zip FROM app.users WHERE id = {user.id}") == [("2 Side St", None)]
    assert User.get(id=user.id).home.street == "2 Side St"  # the model from before the column was added

    a, b = Address(street="A", zip=1), Address(street="B", zip=2)
    Route.create(name="r", stops=[a, b], by_label={"home": a}, start=("depot", b))
    route = Route.get(name="r")
    assert [(s.street, s.zip) for s in route.stops] == [("A", 1), ("B", 2)]
    assert {k: (v.street, v.zip) for k, v in route.by_label.items()} == {"home": ("A", 1)}
    assert (route.start[0], route.start[1].street) == ("depot", "B")
    Route.objects(name="r").update(stops__append=[Address(street="C", zip=3)])
    assert [s.street for s in Route.get(name="r").stops] == ["A", "B", "C"]


def test_counters(app: CQLServer) -> None:
    PageViews.objects(page="/").update(views=3)
    PageViews.objects(page="/").update(views=2)
    assert PageViews.get(page="/").views == 5


def test_ttl_batch_and_paging(app: CQLServer) -> None:
    Event.ttl(60).create(tenant="t", seq=0, body="short-lived")
    (ttl,) = rows("SELECT ttl(body) FROM app.event WHERE tenant = 't' AND seq = 0")[0]
    assert isinstance(ttl, int)
    assert 0 < ttl <= 60
    with BatchQuery() as batch:
        for seq in range(1, 251):
            Event.batch(batch).create(tenant="t", seq=seq, body=f"event {seq}")
    events = list(Event.objects.filter(tenant="t").fetch_size(100))  # three pages
    assert [e.seq for e in events] == list(range(250, -1, -1))
    (default_ttl,) = rows("SELECT ttl(body) FROM app.event WHERE tenant = 't' AND seq = 250")[0]
    assert isinstance(default_ttl, int)
    assert 3500 < default_ttl <= 3600
