"""CQLCluster: N test nodes on 127.0.0.1 ... 127.0.0.N, one port number, one shared engine.

The driver discovers the other nodes from ``system.peers``/``peers_v2`` (filled from every node's
``NodeInfo``, each with its own evenly spread Murmur3 token) and builds a real multi-host pool, so
load balancing, failover and node-down handling can be exercised::

    with CQLCluster(nodes=3) as cluster:
        c = Cluster(cluster.contact_points, port=cluster.port)
        session = c.connect()
        cluster.stop_node(2)        # 127.0.0.3 goes down; the others push STATUS_CHANGE DOWN
        session.execute("SELECT release_version FROM system.local")
        cluster.start_node(2)       # same address and port
        c.shutdown()
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

from ._hub import EventHub
from ._node import DEFAULT_RELEASE, CQLServer, CQLServerError, murmur3_tokens
from ._stats import ClusterStats

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping
    from types import TracebackType

    from ..cql import Engine

log = logging.getLogger(__name__)

_PORT_ATTEMPTS = 20


class CQLCluster:
    """A multi-node test cluster; ``servers[i]`` is the node on 127.0.0.(i+1)."""

    def __init__(
        self,
        nodes: int = 3,
        *,
        port: int = 0,
        release_version: str = DEFAULT_RELEASE,
        cluster_name: str = "Test Cluster",
        credentials: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        engine: Engine | None = None,
        datacenter: str = "datacenter1",
        rack: str = "rack1",
    ) -> None:
        if not 1 <= nodes <= 254:
            raise CQLServerError(f"nodes must be in 1..254, got {nodes!r}")
        if engine is None:
            from ..cql import Engine

            engine = Engine(release_version=release_version, cluster_name=cluster_name)
        self.engine = engine
        self.hub = EventHub()
        self._requested_port = port
        self._options: dict[str, Any] = {
            "credentials": credentials,
            "ssl_context": ssl_context,
            "datacenter": datacenter,
            "rack": rack,
        }
        self._size = nodes
        self.servers: list[CQLServer] = []
        self.stats = ClusterStats(lambda: [s.stats for s in self.servers])

    @property
    def port(self) -> int:
        return self.servers[0].port if self.servers else self._requested_port

    @property
    def contact_points(self) -> list[str]:
        """Node addresses (pass with ``port=cluster.port`` to ``Cluster``)."""
        return [f"127.0.0.{i + 1}" for i in range(self._size)]

    def start(self) -> CQLCluster:
        if self.servers:
            return self
        last_error: Exception | None = None
        for _ in range(_PORT_ATTEMPTS if self._requested_port == 0 else 1):
            try:
                self._start_all(self._requested_port or _free_port_on_all(self._size))
                return self
            except CQLServerError as exc:  # the port was taken on one address meanwhile: try another
                last_error = exc
                self.stop()
        raise CQLServerError(f"Could not start a {self._size}-node cluster: {last_error}")

    def _start_all(self, port: int) -> None:
        self.servers = [
            CQLServer(
                f"127.0.0.{i + 1}",
                port,
                engine=self.engine,
                hub=self.hub,
                tokens=murmur3_tokens(self._size, i),
                **self._options,
            )
            for i in range(self._size)
        ]
        for server in self.servers:
            server.start()
        self.engine.set_nodes([s.node for s in self.servers if s.node is not None])

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers = []

    def stop_node(self, index: int) -> None:
        """Stop node ``index`` (0-based); it stays in the others' ``system.peers``, as a down node does."""
        self.servers[index].stop()

    def start_node(self, index: int) -> None:
        """Start node ``index`` again on the same address and port."""
        self.servers[index].start()

    def __enter__(self) -> CQLCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<CQLCluster {self._size} nodes port={self.port}>"


def _free_port_on_all(nodes: int) -> int:
    """A port number free on 127.0.0.1 (picked by the kernel) and, at the time of asking, on the others."""
    for _ in range(_PORT_ATTEMPTS):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if all(_is_free(f"127.0.0.{i + 1}", port) for i in range(1, nodes)):
            return port
    raise CQLServerError(f"No port free on 127.0.0.1..127.0.0.{nodes} after {_PORT_ATTEMPTS} attempts")


def _is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
