"""Prometheus metrics (``WSGI_CASSANDRA_METRICS_PATH``): every worker's figures in one scrape, under a
real Gunicorn with 2 workers, and the 503 counter moving once Cassandra is gone."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.servers import REPO, get_many, running, server_env, stop_and_check_closed, wait_until
from tests.support.target import Target
from wsgi_cassandra import CassandraMiddleware, ConfigurationError

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.servers import Server
    from wsgi_cassandra.testing import CQLServer

parser = pytest.importorskip("prometheus_client.parser", reason="needs prometheus_client: pip install .[prometheus]")

APP = "tests.apps.metered:application"


def no_app(environ: Any, start_response: Any) -> list[bytes]:  # pragma: no cover - never called
    return []


def scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The metrics page as {(sample name, labels): value}."""
    reply = server.get("/metrics")
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in parser.text_string_to_metric_families(reply.body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def pids_with(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> set[int]:
    wanted = set(labels.items())
    return {
        int(dict(key)["pid"])
        for (sample, key), number in samples.items()
        if sample == name and wanted <= key and number == 1
    }


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_scrape_shows_both_workers_and_counts_503s_when_cassandra_is_gone(
    cassandra: Target, keyspace: str, tmp_path: Path
) -> None:
    server_node = cassandra.embedded
    env = cassandra.subprocess_env(
        CASSANDRA_KEYSPACE=keyspace,
        WSGI_CASSANDRA_METRICS_PATH="/metrics",
        WSGI_CASSANDRA_METRICS_REQUESTS="1",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    with running("gunicorn", APP, "--workers", "2", env=env) as server:
        server.wait_log(r"\[INFO\] Booting worker", count=2)
        wait_until(
            lambda: len(pids_with(scrape(server), "wsgi_cassandra_session_state", state="ready")) == 2,
            timeout=30,
            what="both workers ready in the scrape",
        )
        replies = get_many(server, "/", 20, concurrency=4)
        assert {reply.status for reply in replies} == {200}

        samples = scrape(server)
        workers = server.worker_pids()
        assert pids_with(samples, "wsgi_cassandra_session_state", state="ready") == workers
        for pid in workers:
            assert value(samples, "wsgi_cassandra_hosts_up", pid=str(pid)) == 1
            assert value(samples, "wsgi_cassandra_warmup_phase_seconds", phase="pools", pid=str(pid)) > 0
            assert value(samples, "wsgi_cassandra_warmup_phase_seconds", phase="prepare", pid=str(pid)) > 0
        attempts = value(samples, "wsgi_cassandra_connect_attempts_total")
        assert attempts - value(samples, "wsgi_cassandra_connect_failures_total") == 2, "one success per worker"
        assert value(samples, "wsgi_cassandra_unavailable_responses_total") == 0
        assert value(samples, "wsgi_cassandra_request_seconds_count", statement="items") == 20
        assert value(samples, "wsgi_cassandra_request_seconds_bucket", statement="items", le="+Inf") == 20

        # Cassandra goes away: the listener closes and every connection drops.
        server_node.faults.refuse_connections()
        server_node.faults.close_connections()

        def every_worker_answers_503() -> bool:
            answered = {reply.status for reply in get_many(server, "/", 8, concurrency=4)}
            samples = scrape(server)
            return (
                answered == {503} and len(pids_with(samples, "wsgi_cassandra_session_state", state="hosts_down")) == 2
            )

        wait_until(every_worker_answers_503, timeout=30, what="both workers answering 503")
        before = value(scrape(server), "wsgi_cassandra_unavailable_responses_total")
        assert before >= 8
        assert {reply.status for reply in get_many(server, "/", 5, concurrency=1)} == {503}
        samples = scrape(server)
        assert value(samples, "wsgi_cassandra_unavailable_responses_total") == before + 5
        for pid in workers:
            assert value(samples, "wsgi_cassandra_hosts_up", pid=str(pid)) == 0
        assert server.get("/ping").status == 200, "routes without the session keep working"

        server_node.faults.accept_connections()
        stop_and_check_closed(server, cassandra)


def test_a_metrics_file_caught_while_being_created_gets_a_503_not_a_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A starting worker's file is empty for an instant: the scrape reads again, then answers 503."""
    from wsgi_cassandra.metrics import Metrics

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_all_1.db").touch()  # created, not yet filled
    statuses: list[tuple[str, dict[str, str]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        statuses.append((status, dict(headers)))

    metrics = object.__new__(Metrics)  # the scrape reads only the directory, not the middleware's settings
    body = b"".join(metrics.response(start_response))  # type: ignore[arg-type]
    assert statuses[-1][0] == "503 Service Unavailable", body
    assert statuses[-1][1]["Retry-After"] == "1"

    (tmp_path / "gauge_all_1.db").unlink()  # the worker's file is written (here: gone): the scrape works
    body = b"".join(metrics.response(start_response))  # type: ignore[arg-type]
    assert statuses[-1][0] == "200 OK", body


def test_metrics_need_the_multiprocess_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(ConfigurationError, match="PROMETHEUS_MULTIPROC_DIR"):
        CassandraMiddleware(no_app, environ={}, warmer="lazy", metrics_path="/metrics")


def test_request_metrics_need_the_metrics_path() -> None:
    with pytest.raises(ConfigurationError, match="WSGI_CASSANDRA_METRICS_PATH"):
        CassandraMiddleware(no_app, environ={"WSGI_CASSANDRA_METRICS_REQUESTS": "1"}, warmer="lazy")


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_shutdown_stops_an_attempt_in_flight_with_metrics_on(cql_server: CQLServer, tmp_path: Path) -> None:
    """The metered connector forwards ``abort``: ``shutdown()`` during a black-holed connect (the driver would
    wait ``connect_timeout``, 60 s) ends the connect thread within ``shutdown_timeout`` (3 s), in a real
    process of its own (prometheus_client's multiprocess mode is chosen at its import)."""
    cql_server.faults.black_hole()
    try:
        env = Target.for_server(cql_server).subprocess_env(
            WSGI_CASSANDRA_METRICS_PATH="/metrics", PROMETHEUS_MULTIPROC_DIR=str(tmp_path)
        )
        with subprocess.Popen(
            [sys.executable, "-m", "tests.apps.metered_shutdown"],
            cwd=REPO,
            env=server_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                cql_server.stats.wait_for("connections_opened", 1, timeout=20, compare=lambda now, want: now >= want)
            finally:
                out, err = process.communicate("go\n", timeout=45)  # now shut down, in flight
    finally:
        cql_server.faults.clear()
    assert process.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["attempts"] == 1
    assert report["stopped"] is True, report
    assert report["thread_alive"] is False, report
    assert report["connect_threads"] == [], report
    assert report["state_gauge_before"] == ["connecting"], "the holder's status while the attempt is in flight"
    assert report["state_gauge"] == ["closed"], "the holder's status after shutdown()"


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_the_asgi_middleware_serves_the_metrics_and_counts_its_503s(
    cassandra: Target, keyspace: str, tmp_path: Path
) -> None:
    """``CassandraASGIMiddleware`` honours ``metrics_path`` like the WSGI middleware (the core's Metrics):
    a real ``uvicorn`` whose Cassandra refuses connections answers 503s, and its scrape counts them."""
    faults = cassandra.embedded.faults
    faults.refuse_connections()
    env = cassandra.subprocess_env(
        CASSANDRA_KEYSPACE=keyspace,
        CASSANDRA_CONNECT_TIMEOUT="1",
        WSGI_CASSANDRA_WARM_TIMEOUT="1",
        WSGI_CASSANDRA_METRICS_PATH="/metrics",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    try:
        with running("uvicorn", "tests.apps.asgi_items:application", env=env) as server:
            assert server.wait_http("/ping").status == 200, "the worker boots without Cassandra"
            assert {reply.status for reply in get_many(server, "/", 3, concurrency=1)} == {503}
            samples = scrape(server)
            assert value(samples, "wsgi_cassandra_unavailable_responses_total") == 3
            assert value(samples, "wsgi_cassandra_connect_failures_total") >= 1
            served_by = server.get("/ping").json()["pid"]
            assert pids_with(samples, "wsgi_cassandra_session_state", state="unavailable") == {served_by}
            faults.accept_connections()
            stop_and_check_closed(server, cassandra)
    finally:
        faults.accept_connections()


def gauge_states(families: Any) -> list[str]:
    return [s.labels["state"] for family in families.state.collect() for s in family.samples if s.value == 1]


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_the_state_gauge_is_the_holders_status_through_an_outage(cql_server: CQLServer) -> None:
    """The gauges read ``holder.status()`` after the holder's own host listener took each event (one driver
    listener, the holder's first): ready, hosts_down while every host is gone, ready again, closed."""
    from wsgi_cassandra.config import Settings
    from wsgi_cassandra.connect import Connected, Connector
    from wsgi_cassandra.driver import cluster_factory
    from wsgi_cassandra.holder import HostWatch, SessionHolder
    from wsgi_cassandra.metrics import _Families, _follow_holder, _publish

    families = _Families()  # this process's own objects, outside multiprocess mode: read back directly
    settings = Settings.resolve({}, Target.for_server(cql_server).env)
    connector = Connector(cluster_factory(settings))
    clusters: list[Any] = []

    def followed(pid: int) -> Connected:
        connected = connector(pid)
        clusters.append(connected.cluster)
        _follow_holder(connected.cluster, holder, families)
        return connected

    holder = SessionHolder(followed, shutdown_timeout=5)
    try:
        assert holder.connect(20)
        assert gauge_states(families) == ["ready"]
        (listener,) = clusters[0].listeners
        assert isinstance(listener._first, HostWatch), "one listener: the holder's, then the gauges"

        session = holder.session()
        cql_server.faults.refuse_connections()
        cql_server.faults.close_connections()

        def down_after_a_query() -> bool:  # a request makes the driver notice at once (not at its heartbeat)
            live = holder.current()
            if live is not None:
                with contextlib.suppress(Exception):
                    session.execute("SELECT release_version FROM system.local", timeout=1)
            return gauge_states(families) == ["hosts_down"]

        wait_until(down_after_a_query, timeout=30, what="the gauge says hosts_down")
        assert holder.status()["state"] == "hosts_down"
        cql_server.faults.accept_connections()
        wait_until(lambda: gauge_states(families) == ["ready"], timeout=30, what="the gauge says ready again")
        assert holder.status()["state"] == "ready"
    finally:
        cql_server.faults.accept_connections()
        holder.shutdown()
    _publish(families, holder.status())
    assert gauge_states(families) == ["closed"]
