"""Fault drills with real Gunicorn and uWSGI workers against a 3-node CQL test cluster.

Each drill asserts on what a client and an operator see: status codes, ``Retry-After``, how fast the
503 comes (well under ``CASSANDRA_CONNECT_TIMEOUT``), the health endpoint, and that the *same* worker
processes recover by themselves (pids unchanged: no restart). They need the embedded test server
(faults and node stops), so they skip against a real cluster.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from tests.support.drills import drill_env, drill_server, seed, start_drill_server, wait_ready
from tests.support.servers import eventually, get, hammer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from wsgi_cassandra.testing import CQLCluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(os.environ.get("CASSANDRA_CONTACT_POINTS")), reason="needs the embedded CQL test cluster"),
]

SERVERS = [pytest.param("gunicorn", id="gunicorn"), pytest.param("uwsgi", id="uwsgi")]
CONNECT_TIMEOUT = 5.0  # CASSANDRA_CONNECT_TIMEOUT in drill_env: every 503 must come much faster than this


@pytest.fixture
def cluster() -> Iterator[CQLCluster]:
    from wsgi_cassandra.testing import CQLCluster

    with CQLCluster(nodes=3) as nodes:
        seed(nodes.contact_points, nodes.port)
        yield nodes


def start_all(cluster: CQLCluster) -> None:
    for index in range(3):
        cluster.start_node(index)


def stop_all(cluster: CQLCluster) -> None:
    for index in range(3):
        cluster.stop_node(index)


def reads_ok(port: int, count: int = 6) -> bool:
    return all(get(port, f"/read?{i}").status == 200 for i in range(count))


@pytest.mark.parametrize("kind", SERVERS)
def test_boot_with_cassandra_down_then_up_recovers_without_restart(kind: str, cluster: CQLCluster) -> None:
    stop_all(cluster)
    with drill_server(kind, drill_env(cluster.contact_points, cluster.port)) as web:
        pids = web.worker_pids()
        assert len(pids) == 2  # every worker booted: no halt, no crash loop
        assert all(get(web.port, "/plain").status == 200 for _ in range(4))  # routes without Cassandra work

        first = get(web.port, "/read")  # uWSGI: the first request starts the connect and waits for attempt 1
        assert first.status == 503, first
        assert first.seconds < CONNECT_TIMEOUT / 2
        for i in range(6):
            response = get(web.port, f"/read?{i}")
            assert response.status == 503
            assert response.seconds < 0.5  # answered from the holder's state, never a connect timeout
            assert int(response.headers["retry-after"]) >= 1
            assert b"connection refused" in response.body
            assert b"CASSANDRA_CONTACT_POINTS" in response.body
        health = get(web.port, "/healthz")
        assert health.status == 503
        assert health.json()["state"] == "unavailable"
        assert "connection refused" in health.json()["last_error"]
        assert health.json()["retry_in_s"] <= 1.0  # WSGI_CASSANDRA_RETRY_MAX=1

        start_all(cluster)
        assert eventually(lambda: reads_ok(web.port), timeout=20, step=0.2), web.log()[-3000:]
        assert get(web.port, "/read?3").json()["v"] == "item-3"
        ready = get(web.port, "/healthz")
        assert ready.status == 200
        assert ready.json()["state"] == "ready"
        assert ready.json()["hosts_up"] == 3
        assert ready.json()["warmup_total_ms"] > 0
        assert web.worker_pids() == pids  # recovered in place: same workers, no restart


@pytest.mark.parametrize("kind", SERVERS)
def test_one_node_of_three_down_fails_no_read(kind: str, cluster: CQLCluster) -> None:
    with drill_server(kind, drill_env(cluster.contact_points, cluster.port)) as web:
        pids = web.worker_pids()
        assert eventually(lambda: reads_ok(web.port), timeout=15), web.log()[-3000:]

        import threading

        def outage() -> None:
            cluster.stop_node(1)
            threading.Event().wait(2.0)
            cluster.start_node(1)

        drill = threading.Timer(0.5, outage)
        drill.start()
        samples = hammer(web.port, "/read", seconds=4.5, threads=4)
        drill.join(10)

        statuses = Counter(sample.status for sample in samples)
        assert statuses == {200: len(samples)}, statuses
        assert len(samples) > 100
        assert web.worker_pids() == pids
        # The driver marked the node down and up again; workers see it (hosts_up in the health JSON).
        assert eventually(lambda: get(web.port, "/healthz").json().get("hosts_up") == 3, timeout=15)


@pytest.mark.parametrize("kind", SERVERS)
def test_all_nodes_down_gives_fast_503_then_recovers_by_itself(kind: str, cluster: CQLCluster) -> None:
    with drill_server(kind, drill_env(cluster.contact_points, cluster.port)) as web:
        pids = web.worker_pids()
        assert eventually(lambda: reads_ok(web.port), timeout=15), web.log()[-3000:]

        import threading

        stopper = threading.Timer(0.5, stop_all, args=(cluster,))
        stopper.start()
        samples = hammer(web.port, "/read", seconds=2.5, threads=4)
        stopper.join(10)

        statuses = Counter(sample.status for sample in samples)
        assert set(statuses) <= {200, 503}, statuses  # never a 500, not even while the hosts go down
        outage = [sample for sample in samples if sample.at > 1.0]
        assert outage
        assert all(sample.status == 503 for sample in outage), Counter(s.status for s in outage)
        assert max(sample.seconds for sample in outage) < 0.5  # fast: not a connect or request timeout

        response = get(web.port, "/read")
        assert response.status == 503
        assert response.headers["retry-after"] == "2"
        assert b"all 3 Cassandra host(s) are down" in response.body
        assert get(web.port, "/plain").status == 200
        health = get(web.port, "/healthz")
        assert health.status == 503
        assert health.json()["state"] == "hosts_down"
        assert health.json()["hosts_up"] == 0

        start_all(cluster)
        assert eventually(lambda: reads_ok(web.port), timeout=20, step=0.2), web.log()[-3000:]
        assert get(web.port, "/healthz").json()["state"] == "ready"
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
        else:
            assert wait_ready(web), web.log()[-3000:]
            for server in cluster.servers:
                server.faults.black_hole()
            for server in cluster.servers:  # the driver reconnects straight into the black hole
                server.faults.close_connections()
        eventually(lambda: False, timeout=1.5)  # let connects and reconnects get stuck
    finally:
        stopping = time.monotonic()
        web.stop(30.0)
        took = time.monotonic() - stopping
    # Without the bound, the driver's exit handler waits for the stuck connect: 15 s.
    assert took < shutdown_timeout + 3.0, (took, web.log()[-3000:])
