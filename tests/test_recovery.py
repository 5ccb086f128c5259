"""Recovery after a full outage (``wsgi_cassandra.recovery``): real sockets, the real driver, real Gunicorn.

The driver in these tests waits an hour between reconnections to a down node (``ConstantReconnectionPolicy``
of 3600 s): without the probe no session could come back within any of the bounds below, so each test
fails without it (the drill runs 2 workers of real Gunicorn and uWSGI). How fast recovery is goes in
``bench/recovery.py``, not here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING

import pytest

from tests.support.clients import get
from tests.support.drills import drill_env, drill_server, seed, wait_ready
from tests.support.wait import eventually
from wsgi_cassandra.connect import Connected, Connector
from wsgi_cassandra.holder import SessionHolder
from wsgi_cassandra.recovery import Recovery, probe

if TYPE_CHECKING:
    from cassandra.cluster import Cluster

    from wsgi_cassandra.testing import CQLCluster

embedded_only = pytest.mark.skipif(
    bool(os.environ.get("CASSANDRA_CONTACT_POINTS")), reason="needs the embedded CQL test cluster (stops its nodes)"
)
AN_HOUR = 3600.0


def recovery_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"wsgi-cassandra-recovery-{os.getpid()}" and t.is_alive()]


def stop_all(nodes: CQLCluster) -> None:
    for index in range(len(nodes.contact_points)):
        nodes.stop_node(index)


def registrations(nodes: CQLCluster) -> int:
    """REGISTER requests the nodes received: one each time a control connection is (re)established."""
    return nodes.stats.requests.get("REGISTER", 0)


def queries(nodes: CQLCluster) -> int:
    """QUERY, EXECUTE and BATCH requests the nodes received."""
    return sum(nodes.stats.requests.get(kind, 0) for kind in ("QUERY", "EXECUTE", "BATCH"))


def all_down_seen(holder: SessionHolder, connected: Connected) -> bool:
    """Query, as traffic would, until the holder says every host is down."""
    with contextlib.suppress(Exception):
        connected.session.execute("SELECT release_version FROM system.local")
    return holder.current() is None


def slow_reconnecting_holder(nodes: CQLCluster, **driver: object) -> SessionHolder:
    """A holder whose driver, on its own, would try a down node again only after an hour; ``driver``: more
    ``Cluster`` arguments."""
    from cassandra.cluster import Cluster
    from cassandra.policies import ConstantReconnectionPolicy

    from wsgi_cassandra.config import Settings
    from wsgi_cassandra.driver import cluster_kwargs

    settings = Settings(contact_points=tuple(nodes.contact_points), port=nodes.port, connect_timeout=2.0)

    def factory() -> Cluster:
        kwargs = cluster_kwargs(settings)
        kwargs["reconnection_policy"] = ConstantReconnectionPolicy(AN_HOUR, max_attempts=None)
        return Cluster(**{**kwargs, **driver})

    return SessionHolder(Connector(factory), warm_timeout=15.0, shutdown_timeout=3.0)


def test_probe_finds_exactly_the_nodes_that_listen(cql_cluster: CQLCluster) -> None:
    addresses = [(point, cql_cluster.port) for point in cql_cluster.contact_points]
    assert probe(addresses, 2.0) == {0, 1, 2}
    cql_cluster.stop_node(1)
    assert probe(addresses, 2.0) == {0, 2}
    stop_all(cql_cluster)
    assert probe(addresses, 2.0) == set()
    cql_cluster.start_node(2)
    assert probe(addresses, 2.0) == {2}
    assert probe([("no-such-host.invalid", cql_cluster.port), *addresses], 2.0) == {3}  # unresolvable: skipped


def test_a_stopped_recovery_never_starts_a_thread() -> None:
    recovery = Recovery(object(), pid=os.getpid())  # type: ignore[arg-type]  # the cluster is never touched
    assert recovery.stop(1.0)
    recovery.start()
    assert not recovery.probing
    assert recovery.outages == 0


def test_a_failing_round_ends_the_thread_and_the_next_outage_probes_again(caplog: pytest.LogCaptureFixture) -> None:
    recovery = Recovery(object(), pid=os.getpid())  # type: ignore[arg-type]  # no metadata: every round fails
    try:
        for outage in (1, 2):
            recovery.start()
            assert recovery.outages == outage
            assert eventually(lambda: not recovery.probing, timeout=5)
    finally:
        assert recovery.stop(1.0)
    assert sum("the driver reconnects alone" in record.getMessage() for record in caplog.records) == 2


class _Host:
    """Just what the probe reads of a driver ``Host``: an endpoint and ``is_up``."""

    def __init__(self, port: int) -> None:
        self.is_up = False
        self.endpoint = type("Endpoint", (), {"resolve": lambda _self: ("127.0.0.1", port)})()


class _Cluster:
    """A narrow fake of a down cluster: one host, and a scheduler that records what it is asked to run."""

    def __init__(self, host: _Host) -> None:
        self.host = host
        self.handed_at: list[float] = []
        self.metadata = type("Metadata", (), {"all_hosts": lambda _self: [host]})()
        self.scheduler = self

    def schedule_unique(self, delay: float, fn: object, host: _Host) -> None:
        self.handed_at.append(time.monotonic())

    def on_up(self, host: _Host) -> None:  # never called: the scheduler above records instead
        raise AssertionError


def test_a_host_that_accepts_but_never_comes_up_is_handed_over_at_a_slowing_pace() -> None:
    """A hung node (the kernel still accepts) or a proxy in front: no reconnect storm, however often we probe."""
    with socket.socket() as listener:  # listens, never accepts: a black hole
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        cluster = _Cluster(_Host(listener.getsockname()[1]))
        recovery = Recovery(cluster, pid=os.getpid(), interval=0.05, probe_timeout=0.5)  # type: ignore[arg-type]
        recovery.start()
        try:
            assert eventually(lambda: len(cluster.handed_at) >= 2, timeout=10), cluster.handed_at
        finally:
            assert recovery.stop(2.0)
    first, second = cluster.handed_at[:2]
    assert second - first >= 1.5  # probed about every 0.05 s meanwhile, handed over again only after 2 s


@embedded_only
def test_a_node_back_after_a_full_outage_serves_at_once_although_the_driver_would_wait_an_hour(
    cql_cluster: CQLCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wsgi_cassandra.recovery")
    holder = slow_reconnecting_holder(cql_cluster)
    try:
        connected = holder.get()
        assert connected is not None, holder.status()
        recovery = connected.extras["recovery"]
        for outage, back in enumerate((1, 2), start=1):  # twice: each outage gets its own probing
            stop_all(cql_cluster)
            assert eventually(lambda: all_down_seen(holder, connected), timeout=15), holder.status()
            assert eventually(lambda: recovery.probing, timeout=5)
            assert recovery.outages == outage
            registered = registrations(cql_cluster)
            cql_cluster.start_node(back)
            live = eventually(holder.current, timeout=20)
            assert live is not None, (holder.status(), caplog.text)
            assert live.session.execute("SELECT release_version FROM system.local").one()
            assert eventually(lambda: not recovery.probing, timeout=5)  # nothing probes once a host is up
            # The control connection is back too (it registered for events again), where the driver alone
            # would try in an hour; so it hears the others come back (their STATUS_CHANGE events).
            assert eventually(lambda n=registered: registrations(cql_cluster) > n, timeout=20), holder.status()
            for index in range(3):
                if index != back:
                    cql_cluster.start_node(index)
            assert eventually(lambda: holder.status()["hosts_up"] == 3, timeout=20), holder.status()
        messages = [record.getMessage() for record in caplog.records]
        assert sum("every Cassandra host is down; probing 3 host(s) every 1.0 s" in m for m in messages) == 2
        back_lines = [m for m in messages if "up again after" in m]
        assert len(back_lines) == 2, messages  # one line per outage, with how long it lasted
        assert all("with every host down (reconnected when the probe found it answering" in m for m in back_lines)
    finally:
        assert holder.shutdown(5.0)
    assert not recovery_threads()


@embedded_only
def test_an_idle_session_hears_its_nodes_hang_up_without_a_request(cql_cluster: CQLCluster) -> None:
    """No request and no heartbeat (turned off): the nodes closing their connections is all there is to hear.
    The driver alone would notice at the next request (scylla-driver's after waiting 2 s per host)."""
    holder = slow_reconnecting_holder(cql_cluster, idle_heartbeat_interval=0)
    try:
        connected = holder.get()
        assert connected is not None, holder.status()
        assert eventually(lambda: holder.status()["hosts_up"] == 3, timeout=15), holder.status()
        queried = queries(cql_cluster)
        for server in cql_cluster.servers:  # every node refuses new connections, then hangs up on the open ones
            server.faults.refuse_connections()
        for server in cql_cluster.servers:
            server.faults.close_connections()
        assert eventually(lambda: holder.status()["state"] == "hosts_down", timeout=15), holder.status()
        assert holder.current() is None  # requests get the fast 503
        assert eventually(lambda: connected.extras["recovery"].probing, timeout=5)
        assert queries(cql_cluster) == queried  # nobody queried the nodes
        cql_cluster.servers[1].faults.accept_connections()
        live = eventually(holder.current, timeout=20)
        assert live is not None, holder.status()
        assert live.session.execute("SELECT release_version FROM system.local").one()
    finally:
        assert holder.shutdown(5.0)
    assert not recovery_threads()


@embedded_only
def test_shutdown_during_an_outage_leaves_no_probe_thread(cql_cluster: CQLCluster) -> None:
    holder = slow_reconnecting_holder(cql_cluster)
    try:
        connected = holder.get()
        assert connected is not None, holder.status()
        stop_all(cql_cluster)
        assert eventually(lambda: all_down_seen(holder, connected), timeout=15), holder.status()
        assert eventually(lambda: connected.extras["recovery"].probing, timeout=5)
    finally:
        holder.shutdown(3.0)
    assert not recovery_threads()  # stop() joined it: nothing left to wait for
    cql_cluster.start_node(0)
    connected.extras["recovery"].start()  # a late "every host down" from the driver: ignored for good
    assert not recovery_threads()


@pytest.mark.integration
@embedded_only
@pytest.mark.parametrize("kind", [pytest.param("gunicorn", id="gunicorn"), pytest.param("uwsgi", id="uwsgi")])
def test_workers_serve_again_after_a_full_outage_without_waiting_for_the_driver(
    kind: str, cql_cluster: CQLCluster
) -> None:
    seed(cql_cluster.contact_points, cql_cluster.port)
    env = drill_env(cql_cluster.contact_points, cql_cluster.port, DRILL_RECONNECT_DELAY=str(AN_HOUR))
    with drill_server(kind, env, workers=2) as web:
        pids = web.worker_pids()
        assert wait_ready(web, timeout=30), web.log()[-3000:]
        stop_all(cql_cluster)
        down: set[int] = set()

        def every_worker_down() -> bool:
            get(web.port, "/read", timeout=5)  # traffic meanwhile, as a live site has
            reply = get(web.port, "/healthz", timeout=2)
            if reply.status == 503 and reply.json()["state"] == "hosts_down":
                down.add(int(reply.json()["pid"]))
            return down >= pids

        assert eventually(every_worker_down, timeout=20, step=0.05), (down, web.log()[-3000:])
        for index in range(3):
            cql_cluster.start_node(index)
        served: set[int] = set()

        def every_worker_serves() -> bool:
            reply = get(web.port, "/read?3", timeout=5)
            if reply.status == 200 and reply.json()["v"] == "item-3":
                served.add(int(reply.json()["pid"]))
            return served >= pids

        # The driver alone would try again in an hour; 30 s is a generous bound for a busy machine.
        assert eventually(every_worker_serves, timeout=30, step=0.05), (served, web.log()[-3000:])
        assert web.worker_pids() == pids  # recovered in place, no restart
