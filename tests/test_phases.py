"""Warm-up phases: each connect reports where its time went, in the log, the status and the health endpoint."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from wsgi_cassandra import CassandraMiddleware
from wsgi_cassandra.config import Settings
from wsgi_cassandra.connect import Connector
from wsgi_cassandra.driver import cluster_factory
from wsgi_cassandra.holder import SessionHolder

if TYPE_CHECKING:
    from tests.support.target import Target

DRIVER_PHASES = {"control_connection", "topology", "schema", "pools"}
OPTIONAL = {"routing"}  # only when the keyspace metadata is already there (not with background schema)


def noop_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("204 No Content", [])
    return []


@pytest.mark.integration
@pytest.mark.parametrize("fast", [False, True], ids=["default", "fast-connect"])
def test_phases_are_reported(cassandra: Target, keyspace: str, fast: bool) -> None:
    app = CassandraMiddleware(
        noop_app,
        keyspace=keyspace,
        warmer="lazy",
        fast_connect=fast,
        statements={"get": "SELECT name FROM items WHERE id = ?"},
        **cassandra.middleware_kwargs(),
    )
    try:
        connected = app.holder.get()
        assert connected is not None
        assert set(connected.phases) - OPTIONAL == DRIVER_PHASES | {"prepare"}
        assert all(ms >= 0 for ms in connected.phases.values())
        assert connected.phases["control_connection"] > 0
        assert connected.phases["pools"] > 0
        assert connected.phases["prepare"] > 0
        assert connected.total_ms == pytest.approx(sum(connected.phases.values()))
        warmup = app.holder.status()["warmup_ms"]
        assert set(warmup) == set(connected.phases)
    finally:
        app.shutdown()


@pytest.mark.integration
def test_no_statements_no_prepare_phase_and_jitter_shows(cassandra: Target, keyspace: str) -> None:
    app = CassandraMiddleware(
        noop_app, keyspace=keyspace, warmer="lazy", warm_jitter=0.02, **cassandra.middleware_kwargs()
    )
    try:
        connected = app.holder.get()
        assert connected is not None
        assert set(connected.phases) - OPTIONAL == DRIVER_PHASES | {"jitter"}
        assert 0 <= connected.phases["jitter"] <= 20.0 + 5.0
    finally:
        app.shutdown()


@pytest.mark.integration
def test_ready_log_line_and_health_endpoint_carry_the_phases(
    cassandra: Target, keyspace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wsgi_cassandra.holder")
    app = CassandraMiddleware(
        noop_app, keyspace=keyspace, warmer="lazy", health_path="/healthz", **cassandra.middleware_kwargs()
    )
    try:
        assert app.holder.warm()
        ready = [r.getMessage() for r in caplog.records if "session ready" in r.getMessage()]
        assert len(ready) == 1
        assert all(name in ready[0] for name in DRIVER_PHASES)
        seen: dict[str, str] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status
            return lambda data: None

        body = json.loads(b"".join(app({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}, start_response)))
        assert seen["status"] == "200 OK"
        assert set(body["warmup_ms"]) - OPTIONAL == DRIVER_PHASES
        assert all(value >= 0 for value in body["warmup_ms"].values())
    finally:
        app.shutdown()


class _BareCluster:
    """A Cluster stand-in without the driver internals the phase hooks use."""

    schema_metadata_enabled = True

    def connect(self, keyspace: str | None = None) -> object:
        return object()

    def shutdown(self) -> None:
        raise AssertionError("not expected: the attempt succeeded")


def test_without_driver_hooks_the_connect_is_one_phase() -> None:
    connected = Connector(_BareCluster)(pid=1)  # type: ignore[arg-type]
    assert set(connected.phases) == {"connect"}
    assert connected.phases["connect"] >= 0
    assert dict(connected.statements) == {}


class _FailingCluster(_BareCluster):
    shut_down = False

    def connect(self, keyspace: str | None = None) -> object:
        raise OSError("refused")

    def shutdown(self) -> None:
        type(self).shut_down = True


def test_a_failed_attempt_shuts_its_cluster_down() -> None:
    with pytest.raises(OSError, match="refused"):
        Connector(_FailingCluster)(pid=1)  # type: ignore[arg-type]
    assert _FailingCluster.shut_down


def test_warm_up_builds_the_replica_map_of_the_apps_keyspace(cassandra: Target, keyspace: str) -> None:
    """The driver builds a keyspace's token -> replicas map on the first query routed there; we build it
    during the warm-up, so the app's first request does not."""
    holder = SessionHolder(Connector(cluster_factory(Settings.resolve({}, cassandra.env)), keyspace=keyspace))
    try:
        connected = holder.get(timeout=30)
        assert connected is not None
        token_map = connected.cluster.metadata.token_map
        assert keyspace in token_map.tokens_to_hosts_by_ks
        assert token_map.tokens_to_hosts_by_ks[keyspace]  # a real map: every ring token has replicas
        assert connected.phases["routing"] >= 0
    finally:
        holder.shutdown(timeout=10)
