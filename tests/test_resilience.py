"""Fault drills with real Gunicorn and uWSGI workers against a 3-node CQL test cluster.

Each drill asserts on what a client and an operator see: status codes, ``Retry-After``, how fast the
503 comes (well under ``CASSANDRA_CONNECT_TIMEOUT``), the health endpoint, and that the *same* worker
processes recover by themselves (pids unchanged: no restart). They need the embedded test server
(faults and node stops), so they skip against a real cluster.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Callable

import pytest

from tests.support.clients import Reply, get, hammer
from tests.support.drills import drill_env, drill_server, seed, start_drill_server, wait_ready
from tests.support.wait import eventually

if TYPE_CHECKING:
    from tests.support.servers import Server
    from wsgi_cassandra.testing import CQLCluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(os.environ.get("CASSANDRA_CONTACT_POINTS")), reason="needs the embedded CQL test cluster"),
]

SERVERS = [pytest.param("gunicorn", id="gunicorn"), pytest.param("uwsgi", id="uwsgi")]
CONNECT_TIMEOUT = 5.0  # CASSANDRA_CONNECT_TIMEOUT in drill_env
# "Fast" means answered from the worker's state, not after a connect or request timeout: a bound well under
# CONNECT_TIMEOUT, wide enough for a busy machine (how fast it really is, is measured in bench/).
FAST = CONNECT_TIMEOUT / 2


@pytest.fixture
def cluster(cql_cluster: CQLCluster) -> CQLCluster:
    """The plugin's 3-node test cluster, with the drill keyspace on every node."""
    seed(cql_cluster.contact_points, cql_cluster.port)
    return cql_cluster


def start_all(cluster: CQLCluster) -> None:
    for index in range(3):
        cluster.start_node(index)


def stop_all(cluster: CQLCluster) -> None:
    for index in range(3):
        cluster.stop_node(index)


def health(state: str, **facts: object) -> Callable[[Reply], bool]:
    """A /healthz reply in ``state`` whose JSON has each of ``facts`` (``last_error`` is matched as a part)."""

    def accept(reply: Reply) -> bool:
        if reply.status not in (200, 503):
            return False
        body = reply.json()
        if body.get("state") != state:
            return False
        for name, value in facts.items():
            if name == "last_error" and str(value) not in str(body.get(name)):
                return False
            if name != "last_error" and body.get(name) != value:
                return False
        return True

    return accept


def every_worker_reads(web: Server, timeout: float = 20.0) -> None:
    """Each worker (not just whichever answered) read a row and says it is ready with all 3 hosts up."""
    for key, reply in web.every_worker("/read?3", timeout=timeout).items():
        assert reply.json()["v"] == "item-3", (key, reply)
    ready = web.every_worker("/healthz", accept=health("ready", hosts_up=3), timeout=timeout)
    assert all(reply.status == 200 and reply.json()["warmup_total_ms"] > 0 for reply in ready.values())


@pytest.mark.parametrize("kind", SERVERS)
def test_boot_with_cassandra_down_then_up_recovers_without_restart(kind: str, cluster: CQLCluster) -> None:
    stop_all(cluster)
    with drill_server(kind, drill_env(cluster.contact_points, cluster.port)) as web:
        pids = web.worker_pids()
        assert len(pids) == 2  # every worker booted: no halt, no crash loop
        assert all(get(web.port, "/plain").status == 200 for _ in range(4))  # routes without Cassandra work

        first = get(web.port, "/read")  # uWSGI: the first request starts the connect and waits for attempt 1
        assert first.status == 503, first
        assert first.seconds < FAST
        # Every worker has tried and failed (its first attempt is over), whichever answered above.
        down = web.every_worker("/healthz", accept=health("unavailable", last_error="connection refused"))
        assert all(reply.status == 503 and reply.json()["retry_in_s"] <= 1.0 for reply in down.values())
        for i in range(6):
            response = get(web.port, f"/read?{i}")
            assert response.status == 503
            assert response.seconds < FAST  # answered from the holder's state, never a connect timeout
            assert int(response.headers["retry-after"]) >= 1
            assert b"connection refused" in response.body
            assert b"CASSANDRA_CONTACT_POINTS" in response.body

        start_all(cluster)
        every_worker_reads(web)
        assert web.worker_pids() == pids  # recovered in place: same workers, no restart


@pytest.mark.parametrize("kind", SERVERS)
def test_one_node_of_three_down_fails_no_read(kind: str, cluster: CQLCluster) -> None:
    with drill_server(kind, drill_env(cluster.contact_points, cluster.port)) as web:
        pids = web.worker_pids()
        every_worker_reads(web)

        started = time.monotonic()
        window: dict[str, float] = {}

        def outage() -> None:
            cluster.stop_node(1)
            window["down"] = time.monotonic() - started
            threading.Event().wait(2.0)
            cluster.start_node(1)
            window["up"] = time.monotonic() - started

        drill = threading.Timer(0.5, outage)
        drill.start()
        samples = hammer(web.port, "/read", seconds=1.0, threads=4, started=started, until=lambda: "up" in window)
        drill.join(30)

        statuses = Counter(sample.status for sample in samples)
        assert statuses == {200: len(samples)}, statuses
        during = [sample for sample in samples if window["down"] < sample.at < window["up"]]
        assert during, "the hammer kept reading while the node was down"
        assert web.worker_pids() == pids
        # The driver marked the node down and up again; every worker sees it (hosts_up in the health JSON).
        every_worker_reads(web)


@pytest.mark.parametrize("kind", SERVERS)
def test_all_nodes_down_gives_fast_503_then_recovers_by_itself(kind: str, cluster: CQLCluster) -> None:
    with drill_server(kind, drill_env(cluster.contact_points, cluster.port)) as web:
        pids = web.worker_pids()
        every_worker_reads(web)

        started = time.monotonic()
        stopped: list[float] = []

        def stop() -> None:
            stop_all(cluster)
            stopped.append(time.monotonic() - started)

        stopper = threading.Timer(0.5, stop)
        stopper.start()

        # Read on until a second after the last node stopped: whatever answers then has no node to read from.
        def a_second_after_the_stop() -> bool:
            return bool(stopped) and time.monotonic() - started > stopped[0] + 1.0

        samples = hammer(web.port, "/read", seconds=1.0, threads=4, started=started, until=a_second_after_the_stop)
        stopper.join(30)

        statuses = Counter(sample.status for sample in samples)
        assert set(statuses) <= {200, 503}, statuses  # never a 500, not even while the hosts go down
        outage = [sample for sample in samples if sample.at > stopped[0]]
        assert outage
        assert all(sample.status == 503 for sample in outage), Counter(s.status for s in outage)
        assert max(sample.seconds for sample in outage) < FAST  # not a connect or request timeout

        # Every worker has seen every host go down (the driver's events), whichever answers.
        web.every_worker("/healthz", accept=health("hosts_down", hosts_up=0))
        response = get(web.port, "/read")
        assert response.status == 503
        assert response.headers["retry-after"] == "2"
        assert b"all 3 Cassandra host(s) are down" in response.body
        assert get(web.port, "/plain").status == 200

        start_all(cluster)
        every_worker_reads(web)
        assert web.worker_pids() == pids


@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize("when", ["while-connecting", "while-serving"])
def test_black_holed_cluster_does_not_hold_up_shutdown(kind: str, when: str, cluster: CQLCluster) -> None:
    shutdown_timeout = 2.0
    if when == "while-connecting":  # each contact point takes a 5 s connect timeout: 15 s per attempt
        # (the Gunicorn warmer holds a booting worker for WSGI_CASSANDRA_WARM_TIMEOUT = 2 s, then it serves)
        for server in cluster.servers:
            server.faults.black_hole()
    env = drill_env(cluster.contact_points, cluster.port, WSGI_CASSANDRA_SHUTDOWN_TIMEOUT=str(shutdown_timeout))
    web = start_drill_server(kind, env)
    try:
        if when == "while-connecting":
            assert get(web.port, "/healthz").status == 503  # also starts the connect in a uWSGI worker
            assert get(web.port, "/plain").status == 200
            # A connect is stuck in the hole (connected, never answered).
            assert eventually(lambda: cluster.stats.snapshot().connections_open >= 1, timeout=15)
        else:
            assert wait_ready(web), web.log()[-3000:]
            for server in cluster.servers:
                server.faults.black_hole()
            opened = cluster.stats.snapshot().connections_opened
            for server in cluster.servers:
                server.faults.close_connections()

            def reconnecting() -> bool:  # a read finds its connection gone: the driver reconnects into the hole
                get(web.port, "/read", timeout=15)
                return cluster.stats.snapshot().connections_opened > opened

            assert eventually(reconnecting, timeout=20, step=0.2)
    finally:
        stopping = time.monotonic()
        web.stop(30.0)
        took = time.monotonic() - stopping
    # Without the bound, the driver's exit handler waits for the stuck connect (15 s); while serving, without
    # stopping the driver's reconnections, Cluster.shutdown() and then the interpreter's join of the driver's
    # executor threads wait for them (CONNECT_TIMEOUT per host).
    assert took < shutdown_timeout + 3.0, (took, web.log()[-3000:])
