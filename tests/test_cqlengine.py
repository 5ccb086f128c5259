"""cqlengine models on each worker's own session (``cqlengine=True``), in process, after a real fork, and
under real Gunicorn and uWSGI workers.

What the tests check: models are created, read and filtered; raw queries through the request's session keep
their row type (the mapper's ``dict_factory`` stays in its own profile); each worker's cqlengine connection
is its own (its pid, its sockets as the test server saw them); a forked child never shuts down its parent's
Cluster; every connection is closed when the workers exit.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import TYPE_CHECKING, Any

import pytest
from cassandra.cluster import EXEC_PROFILE_DEFAULT
from cassandra.cqlengine import connection, models
from cassandra.cqlengine.management import sync_table
from cassandra.query import named_tuple_factory

from tests.apps.readings import Reading
from tests.support.clients import call
from tests.support.forks import in_fork
from tests.support.servers import get_many, running, stop_and_check_closed, wait_until
from wsgi_cassandra import CassandraMiddleware
from wsgi_cassandra.cqlengine import CONNECTION_NAME, PROFILE, Unready
from wsgi_cassandra.exceptions import SessionUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from tests.support.servers import Server
    from tests.support.target import Target

pytestmark = pytest.mark.integration


def no_app(environ: Any, start_response: Any) -> list[bytes]:  # pragma: no cover - never called
    return []


@pytest.fixture
def readings(cassandra: Target, keyspace: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The models' table, created by cqlengine's own ``sync_table`` through a middleware's session."""
    monkeypatch.setenv("CQLENG_ALLOW_SCHEMA_MANAGEMENT", "1")
    middleware = CassandraMiddleware(
        no_app, keyspace=keyspace, warmer="lazy", cqlengine=True, **cassandra.middleware_kwargs()
    )
    try:
        middleware.session(20)
        sync_table(Reading)
    finally:
        middleware.shutdown()
    return keyspace


@pytest.fixture
def mapped(cassandra: Target, readings: str) -> Iterator[CassandraMiddleware]:
    middleware = CassandraMiddleware(
        no_app, keyspace=readings, warmer="lazy", cqlengine=True, **cassandra.middleware_kwargs()
    )
    try:
        yield middleware
    finally:
        middleware.shutdown()


def test_models_work_and_raw_rows_keep_their_type(cassandra: Target, readings: str) -> None:
    plain = CassandraMiddleware(no_app, keyspace=readings, warmer="lazy", **cassandra.middleware_kwargs())
    try:
        without = type(plain.session(20).execute("SELECT * FROM items LIMIT 1").one()).__name__
    finally:
        plain.shutdown()

    mapped = CassandraMiddleware(
        no_app, keyspace=readings, warmer="lazy", cqlengine=True, **cassandra.middleware_kwargs()
    )
    try:
        session = mapped.session(20)
        Reading.create(sensor="a", seq=1, value="x")
        Reading.create(sensor="a", seq=2, value="y")
        Reading.create(sensor="b", seq=1, value="z")
        assert [r.value for r in Reading.objects(sensor="a")] == ["x", "y"]
        assert [r.value for r in Reading.objects(sensor="a").filter(seq__gt=1)] == ["y"]
        assert Reading.get(sensor="b", seq=1).value == "z"
        assert readings == models.DEFAULT_KEYSPACE

        row = session.execute("SELECT * FROM items LIMIT 1").one()
        assert type(row).__name__ == without, "raw queries return what they returned without cqlengine"
        assert isinstance(row, tuple)
        assert not isinstance(row, dict)
        profiles = session.cluster.profile_manager.profiles
        assert profiles[EXEC_PROFILE_DEFAULT].row_factory is named_tuple_factory
        mapper = connection.get_connection()
        assert connection.get_connection(CONNECTION_NAME) is mapper
        assert mapper.cluster is session.cluster, "the worker's Cluster"
        assert mapper.session.session is not session, "cqlengine's own Session on it"
        assert isinstance(mapper.session.execute("SELECT * FROM readings LIMIT 1").one(), dict)
        assert PROFILE in profiles
    finally:
        mapped.shutdown()
    assert CONNECTION_NAME not in connection._connections, "unregistered at shutdown"


def test_close_unregisters_without_shutting_the_cluster_down(mapped: CassandraMiddleware) -> None:
    session = mapped.session(20)
    assert mapped._cqlengine is not None
    mapped._cqlengine.close()
    assert CONNECTION_NAME not in connection._connections
    assert not session.cluster.is_shutdown
    assert session.execute("SELECT * FROM readings").all() == []


def test_forked_child_registers_its_own_and_never_shuts_down_the_parents(mapped: CassandraMiddleware) -> None:
    parent_session = mapped.session(20)
    Reading.create(sensor="parent", seq=1, value="before the fork")
    parent_cluster = connection.get_connection().cluster
    assert parent_cluster is parent_session.cluster

    def child() -> dict[str, Any]:
        session = mapped.session(20)
        mapper = connection.get_connection()
        Reading.create(sensor="child", seq=1, value="from the child")
        report = {
            "pid": os.getpid(),
            "own_cluster": session.cluster is not parent_cluster,
            "mapper_on_own_cluster": mapper.cluster is session.cluster,
            "parent_row": Reading.get(sensor="parent", seq=1).value,
        }
        mapped.shutdown()  # unregisters the child's connection, shuts down the child's Cluster only
        report["unregistered"] = CONNECTION_NAME not in connection._connections
        return report

    report = in_fork(child)
    assert report["pid"] != os.getpid()
    assert report["own_cluster"]
    assert report["mapper_on_own_cluster"]
    assert report["parent_row"] == "before the fork"
    assert report["unregistered"]
    # The parent's Cluster and cqlengine connection survived the child's registration and exit.
    assert not parent_cluster.is_shutdown
    assert connection.get_connection().cluster is parent_cluster
    assert Reading.get(sensor="child", seq=1).value == "from the child"


def models_app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """A route that reads through a model only (never ``environ["cassandra.session"]``); under ``/caught``
    it answers 500 for any error itself, as Flask and Django do."""
    try:
        body = ",".join(reading.value for reading in Reading.objects(sensor="a")).encode()
    except Exception:
        if environ["PATH_INFO"] != "/caught":
            raise
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"the framework's error page"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def test_a_model_query_before_the_session_is_ready_is_a_503(cassandra: Target, keyspace: str) -> None:
    """While the worker fails to connect, a model query raises SessionUnavailable (the middleware's 503
    with Retry-After), not cqlengine's "no connection" error (a 500)."""
    faults = cassandra.embedded.faults
    faults.refuse_connections()
    middleware = CassandraMiddleware(
        models_app,
        keyspace=keyspace,
        warmer="lazy",
        cqlengine=True,
        warm_timeout=5,
        connect_timeout=1,
        **cassandra.middleware_kwargs(),
    )
    try:
        assert isinstance(connection.get_connection().session, Unready)
        with pytest.raises(SessionUnavailable, match="still connecting"):
            Reading.objects(sensor="a").count()  # nothing started yet (lazy warmer)
        status, headers, body = call(middleware)  # connects, the first attempt fails
        assert status.startswith("503"), body
        assert int(headers["Retry-After"]) >= 1
        assert b"Cassandra is unavailable" in body
        status, headers, body = call(middleware, "/caught")  # the framework's 500 becomes the 503
        assert status.startswith("503"), body
        assert b"Cassandra is unavailable" in body
        with pytest.raises(SessionUnavailable, match="Cassandra is unavailable"):
            list(Reading.objects(sensor="a"))
    finally:
        faults.accept_connections()
        middleware.shutdown()
    assert CONNECTION_NAME not in connection._connections, "the stand-in is unregistered at shutdown too"


def test_a_forked_child_never_uses_its_parents_connection(mapped: CassandraMiddleware) -> None:
    """Right after a real fork of a registered parent, the child's models get the stand-in (503), never the
    parent's connection; the parent's session refuses to run in the child even when called directly (a
    child forked in C, by uWSGI, runs no fork hook); then the child's own session serves its models."""
    mapped.session(20)
    parent_mapper = connection.get_connection()
    assert not isinstance(parent_mapper.session, Unready)
    Reading.create(sensor="parent", seq=1, value="before the fork")

    def child() -> dict[str, Any]:
        report: dict[str, Any] = {
            "not_adopted": mapped.holder.state.pid != os.getpid(),
            "entry_is_parents": connection._connections.get(CONNECTION_NAME) is parent_mapper,
            "default_is_parents": connection.get_connection() is parent_mapper,
        }
        try:
            Reading.get(sensor="parent", seq=1)
        except SessionUnavailable as exc:
            report["model_query"] = f"SessionUnavailable: {exc.reason}"
        try:
            parent_mapper.session.execute("SELECT * FROM readings")
        except SessionUnavailable:
            report["parents_session"] = "refused"
        mapped.session(20)
        report["own_mapper"] = connection.get_connection() is not parent_mapper
        report["own_read"] = Reading.get(sensor="parent", seq=1).value
        mapped.shutdown()
        return report

    report = in_fork(child)
    assert report["not_adopted"], "nothing had started connecting in the child (lazy warmer)"
    assert not report["entry_is_parents"]
    assert not report["default_is_parents"]
    assert report["model_query"].startswith("SessionUnavailable: the Cassandra session is still connecting")
    assert report["parents_session"] == "refused"
    assert report["own_mapper"]
    assert report["own_read"] == "before the fork"
    assert connection.get_connection() is parent_mapper, "the parent keeps its own registration"
    assert Reading.get(sensor="parent", seq=1).value == "before the fork"


def test_a_users_cluster_in_legacy_mode_works_with_cqlengine(cassandra: Target, readings: str) -> None:
    """A ``cluster_factory`` Cluster built with a legacy parameter cannot take execution profiles: the
    mapper's own Session gets ``dict_factory`` instead, and the raw session keeps its row type."""
    from cassandra.cluster import Cluster
    from cassandra.policies import RetryPolicy

    def legacy_cluster() -> Cluster:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "Legacy execution parameters will be removed"
            return Cluster(
                contact_points=list(cassandra.contact_points),
                port=cassandra.port,
                protocol_version=5,
                default_retry_policy=RetryPolicy(),
            )

    middleware = CassandraMiddleware(
        no_app, keyspace=readings, warmer="lazy", cqlengine=True, cluster_factory=legacy_cluster, environ={}
    )
    try:
        session = middleware.session(20)
        Reading.create(sensor="legacy", seq=1, value="mapped")
        assert Reading.get(sensor="legacy", seq=1).value == "mapped"
        assert [r.value for r in Reading.objects(sensor="legacy")] == ["mapped"]
        row = session.execute("SELECT * FROM readings LIMIT 1").one()
        assert isinstance(row, tuple)
        assert not isinstance(row, dict)
        assert PROFILE not in session.cluster.profile_manager.profiles
        assert middleware.holder.state.attempts == 1, "the first attempt succeeded"
    finally:
        middleware.shutdown()


# --- real servers ------------------------------------------------------------------------------------------

APP = "tests.apps.models:application"
SERVERS = [
    pytest.param("gunicorn", ["--workers", "2"], id="gunicorn"),
    pytest.param("gunicorn", ["--workers", "2", "--preload"], id="gunicorn-preload"),
    pytest.param("uwsgi", ["--master", "--processes", "2"], id="uwsgi"),
]


def per_worker(server: Server, path: str, workers: int = 2) -> dict[int, Any]:
    """GET ``path`` until each of ``workers`` pids answered (bounded); their answers by pid."""
    answers: dict[int, Any] = {}

    def every_worker_answered() -> bool:
        for reply in get_many(server, path, 8, concurrency=4):
            assert reply.status == 200, reply.body
            answers[reply.json()["pid"]] = reply.json()
        return len(answers) >= workers

    wait_until(every_worker_answered, timeout=30, what=f"{workers} workers answering {path}")
    return answers


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("kind", "args"), SERVERS)
def test_models_in_request_handlers_each_worker_on_its_own_connection(
    cassandra: Target, readings: str, kind: str, args: list[str]
) -> None:
    stats = cassandra.embedded.stats
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=readings, WSGI_CASSANDRA_CQLENGINE="1")
    with running(kind, APP, *args, env=env) as server:
        server.wait_log(r"cqlengine connection 'wsgi_cassandra' registered", count=2, timeout=30)
        workers = per_worker(server, "/whoami")
        assert set(workers) <= server.worker_pids(), "registered in workers, never in the master"
        clients = {port for _, port in stats.client_addresses}
        ports: list[int] = []
        for pid, answer in workers.items():
            assert answer["built_pid"] == pid
            assert [call["pid"] for call in answer["hook_calls"]] == [pid], "on_ready: once, in the worker"
            assert answer["hook_calls"][0]["served_before"] == 0, "on_ready ran before the first request"
            assert answer["hook_calls"][0]["keyspace"] == readings
            assert answer["cqlengine_ports"], answer
            assert not set(answer["cqlengine_ports"]) & set(answer["raw_ports"]), "cqlengine's own Session"
            ports += answer["cqlengine_ports"]
        assert len(ports) == len(set(ports)), "no two workers share a cqlengine connection"
        assert set(ports) <= clients, "the test server saw each cqlengine connection as its own client"

        for seq in range(6):
            assert server.get(f"/create?sensor=s{seq % 2}&seq={seq}&value=v{seq}").status == 200
        for answer in per_worker(server, "/read?sensor=s0").values():
            assert [r["value"] for r in answer["readings"]] == ["v0", "v2", "v4"]
        for answer in per_worker(server, "/read?sensor=s1&after=1").values():
            assert [(r["seq"], r["value"]) for r in answer["readings"]] == [(3, "v3"), (5, "v5")]
        for answer in per_worker(server, "/raw").values():
            assert answer["type"] == "Row"
            assert answer["is_dict"] is False

        stop_and_check_closed(server, cassandra)  # every connection, cqlengine's included, closed at exit
    assert len(re.findall(r"cqlengine connection 'wsgi_cassandra' unregistered", server.log())) == 2, server.log()


@pytest.mark.timeout(60)
def test_a_failing_on_ready_hook_never_kills_a_worker(cassandra: Target, keyspace: str) -> None:
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace, TEST_ON_READY="raise")
    with running("gunicorn", APP, "--workers", "2", env=env) as server:
        server.wait_log(r"the on_ready hook .* raised; the session is used anyway", count=2, timeout=30)
        for pid, answer in per_worker(server, "/whoami").items():
            assert answer["built_pid"] == pid
            assert [call["pid"] for call in answer["hook_calls"]] == [pid]
        assert "the test hook fails on purpose" in server.log()
        stop_and_check_closed(server, cassandra)
