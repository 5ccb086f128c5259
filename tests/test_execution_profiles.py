"""Execution-profile settings: consistency, serial consistency and request timeout reach every query.

What the test server saw is the proof: it records the consistency (and serial consistency) of each QUERY,
EXECUTE and BATCH. The request timeout is shown with the server's delay fault, and a bad value stops a
real Gunicorn at start with a message naming the variable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import webob
from cassandra import ConsistencyLevel, OperationTimedOut
from cassandra.cluster import ExecutionProfile
from cassandra.query import BatchStatement, dict_factory

from tests.support.servers import running
from wsgi_cassandra import CassandraMiddleware, ConfigurationError
from wsgi_cassandra.config import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.target import Target


def app(environ: Any, start_response: Any) -> list[bytes]:  # pragma: no cover - never called here
    return []


# --- validation at construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, ("LOCAL_ONE", None, 10.0), id="driver-defaults"),
        pytest.param(
            {
                "CASSANDRA_CONSISTENCY": "quorum",
                "CASSANDRA_SERIAL_CONSISTENCY": "local_serial",
                "CASSANDRA_REQUEST_TIMEOUT": "2.5",
            },
            ("QUORUM", "LOCAL_SERIAL", 2.5),
            id="from-environment",
        ),
    ],
)
def test_settings_from_environment(env: dict[str, str], expected: tuple[Any, ...]) -> None:
    settings = Settings.resolve({}, env)
    assert (settings.consistency, settings.serial_consistency, settings.request_timeout) == expected


def test_arguments_take_driver_constants_and_beat_the_environment() -> None:
    explicit = {"consistency": ConsistencyLevel.EACH_QUORUM, "serial_consistency": ConsistencyLevel.SERIAL}
    settings = Settings.resolve(explicit, {"CASSANDRA_CONSISTENCY": "ONE"})
    assert (settings.consistency, settings.serial_consistency) == ("EACH_QUORUM", "SERIAL")


@pytest.mark.parametrize(
    ("env", "words"),
    [
        pytest.param(
            {"CASSANDRA_CONSISTENCY": "QUORUMM"},
            ["CASSANDRA_CONSISTENCY", "'QUORUMM'", "LOCAL_QUORUM", "did you mean 'QUORUM'"],
            id="consistency-typo",
        ),
        pytest.param(
            {"CASSANDRA_CONSISTENCY": "SERIAL"},
            ["CASSANDRA_CONSISTENCY", "'SERIAL'", "accepted: ANY, ONE"],
            id="serial-as-consistency",
        ),
        pytest.param(
            {"CASSANDRA_SERIAL_CONSISTENCY": "QUORUM"},
            ["CASSANDRA_SERIAL_CONSISTENCY", "'QUORUM'", "accepted: SERIAL, LOCAL_SERIAL"],
            id="serial-not-serial",
        ),
        pytest.param(
            {"CASSANDRA_REQUEST_TIMEOUT": "0"},
            ["CASSANDRA_REQUEST_TIMEOUT", "'0'", "a positive number of seconds"],
            id="timeout-zero",
        ),
    ],
)
def test_bad_environment_value_fails_at_construction(env: dict[str, str], words: list[str]) -> None:
    with pytest.raises(ConfigurationError) as info:
        CassandraMiddleware(app, environ=env, warmer="lazy")
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        pytest.param({"consistency": 42}, ["consistency= argument", "42"], id="unknown-constant"),
        pytest.param({"execution_profiles": ["x"]}, ["execution_profiles= argument", "a mapping"], id="not-mapping"),
        pytest.param({"execution_profiles": {"x": object()}}, ["profile 'x'", "ExecutionProfile"], id="not-a-profile"),
        pytest.param(
            {"execution_profiles": {"": ExecutionProfile()}}, ["profile names that are non-empty"], id="empty-name"
        ),
        pytest.param({"on_ready": "print"}, ["on_ready= argument", "a callable"], id="hook-not-callable"),
    ],
)
def test_bad_argument_fails_at_construction(kwargs: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ConfigurationError) as info:
        CassandraMiddleware(app, environ={}, warmer="lazy", **kwargs)
    for word in words:
        assert word in str(info.value)


def test_a_profile_named_like_the_default_is_refused() -> None:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT

    profiles = {EXEC_PROFILE_DEFAULT: ExecutionProfile()}
    with pytest.raises(ConfigurationError, match="CASSANDRA_CONSISTENCY"):
        CassandraMiddleware(app, environ={}, warmer="lazy", execution_profiles=profiles)


# --- what reaches the server ----------------------------------------------------------------------------


class Probe:
    """A WSGI app running what a test puts in ``work`` with the request's session; answers its result."""

    def __init__(self) -> None:
        self.work: Any = None
        self.result: Any = None

    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        self.result = self.work(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def wrapped(cassandra: Target, keyspace: str, probe: Probe) -> Iterator[CassandraMiddleware]:
    cassandra.embedded  # noqa: B018 - skips against a real cluster: the assertions read the server's stats
    middleware = CassandraMiddleware(
        probe,
        keyspace=keyspace,
        warmer="lazy",
        consistency="QUORUM",
        serial_consistency="LOCAL_SERIAL",
        request_timeout=0.5,
        statements={"item": "SELECT name FROM items WHERE id = ?"},
        execution_profiles={"strong": ExecutionProfile(consistency_level=ConsistencyLevel.ALL)},
        **cassandra.middleware_kwargs(),
    )
    try:
        yield middleware
    finally:
        middleware.shutdown()


def run(middleware: CassandraMiddleware, probe: Probe, work: Any) -> Any:
    probe.work = work
    response = webob.Request.blank("/").get_response(middleware)
    assert response.status_int == 200, response.text
    return probe.result


@pytest.mark.integration
def test_consistency_and_serial_consistency_reach_query_execute_and_batch(
    cassandra: Target, wrapped: CassandraMiddleware, probe: Probe
) -> None:
    stats = cassandra.embedded.stats

    def work(environ: Any) -> Any:
        stats.reset()
        session, statements = environ["cassandra.session"], environ["cassandra.statements"]
        session.execute("SELECT name FROM items")
        session.execute(statements["item"], [1])
        batch = BatchStatement()
        batch.add("INSERT INTO items (id, name) VALUES (%s, %s)", (7, "item-7"))
        session.execute(batch)
        session.execute("SELECT name FROM items", execution_profile="strong")
        return stats.consistencies

    seen = run(wrapped, probe, work)
    assert seen == {
        ("QUERY", "QUORUM", "LOCAL_SERIAL"): 1,
        ("EXECUTE", "QUORUM", "LOCAL_SERIAL"): 1,
        ("BATCH", "QUORUM", "LOCAL_SERIAL"): 1,
        ("QUERY", "ALL", None): 1,  # the named profile, merged next to the default one
    }


def test_a_named_profile_without_a_policy_shares_the_defaults() -> None:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT
    from cassandra.policies import RoundRobinPolicy

    from wsgi_cassandra.driver import cluster_kwargs

    mine = RoundRobinPolicy()
    given = {"reports": ExecutionProfile(request_timeout=30), "own": ExecutionProfile(load_balancing_policy=mine)}
    settings = Settings.resolve({"execution_profiles": given, "local_dc": "dc1"}, {})
    profiles = cluster_kwargs(settings)["execution_profiles"]
    default_policy = profiles[EXEC_PROFILE_DEFAULT].load_balancing_policy
    assert profiles["reports"].load_balancing_policy is default_policy
    assert profiles["reports"].request_timeout == 30
    assert given["reports"].load_balancing_policy is not default_policy, "the user's object is not changed"
    assert profiles["own"].load_balancing_policy is mine


@pytest.mark.integration
def test_the_request_timeout_reaches_the_queries(cassandra: Target, wrapped: CassandraMiddleware, probe: Probe) -> None:
    server = cassandra.embedded
    run(wrapped, probe, lambda environ: None)  # connected (the delay below must not slow the connect)
    server.faults.delay(5.0, query=r"FROM items")

    def work(environ: Any) -> Any:
        try:
            environ["cassandra.session"].execute("SELECT name FROM items")
        except OperationTimedOut as exc:
            return exc
        return None

    error = run(wrapped, probe, work)
    assert isinstance(error, OperationTimedOut), "the 0.5 s request timeout, not the driver's 10 s, applied"
    assert server.stats.requests.get("QUERY", 0) >= 1, "the query did reach the server"
    server.faults.clear()


@pytest.mark.integration
def test_no_legacy_switch_breaks_execution_profiles(
    cassandra: Target, wrapped: CassandraMiddleware, probe: Probe
) -> None:
    """The driver switches a Cluster without profiles to legacy mode at ``session.row_factory = ...``, after
    which every ``execution_profile=`` raises. Ours is built in profile mode: the legacy setter raises instead,
    and profiles keep working."""

    def work(environ: Any) -> Any:
        session = environ["cassandra.session"]
        with pytest.raises(ValueError, match="Configuration Profiles"):
            session.row_factory = dict_factory
        with pytest.raises(ValueError, match="Configuration Profiles"):
            session.default_timeout = 30
        rows = session.execute("SELECT name FROM items", execution_profile="strong")
        return sorted(row.name for row in rows)

    assert run(wrapped, probe, work) == ["item-0", "item-1", "item-2"]


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_bad_value_stops_gunicorn_at_start_naming_the_variable(cassandra: Target) -> None:
    env = cassandra.subprocess_env(CASSANDRA_CONSISTENCY="QUORUMM")
    with running("gunicorn", "tests.apps.items:application", "--workers", "2", env=env) as server:
        code = server.process.wait(45)
    assert code != 0
    log = server.log()
    assert "CASSANDRA_CONSISTENCY = 'QUORUMM' is not valid" in log
    assert "did you mean 'QUORUM'?" in log
