"""CQLServer: a CQL native-protocol node on a loopback address, served from a background thread.

Nothing happens at import or construction: :meth:`CQLServer.start` binds the port (synchronously, so a
bind error is raised right there) and starts one thread running an asyncio loop that serves every
connection; :meth:`CQLServer.stop` closes the listener and every connection and joins the thread::

    with CQLServer() as server:                      # 127.0.0.1, a free port, Cassandra 4.1 behaviour
        cluster = Cluster(["127.0.0.1"], port=server.port)
        session = cluster.connect()
        ...
        cluster.shutdown()
    assert server.stats.connections_open == 0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import uuid
from typing import TYPE_CHECKING

from ._connection import Connection
from ._faults import Faults
from ._hub import EventHub
from ._listener import Listener
from ._queries import QueryRunner
from ._stats import Stats

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    from ..cql import Engine, NodeInfo

log = logging.getLogger(__name__)

DEFAULT_RELEASE = "4.1.5"
_START_TIMEOUT = 10.0


class CQLServerError(Exception):
    """The test server could not start (bad option, port in use)."""


def murmur3_tokens(nodes: int, index: int) -> tuple[str, ...]:
    """One Murmur3 token for node ``index`` of ``nodes``, evenly spread over the ring."""
    step = 2**64 // nodes
    return (str(-(2**63) + index * step),)


class CQLServer:
    """One CQL node. Options are keyword-only; see ``docs/testing-server.md``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        release_version: str | None = None,
        cluster_name: str = "Test Cluster",
        credentials: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        engine: Engine | None = None,
        datacenter: str = "datacenter1",
        rack: str = "rack1",
        tokens: Sequence[str] | None = None,
        host_id: uuid.UUID | None = None,
        hub: EventHub | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise CQLServerError(f"port must be in 0..65535, got {port!r}")
        try:
            socket.inet_aton(host)
        except OSError:
            raise CQLServerError(f"host must be an IPv4 address such as 127.0.0.1, got {host!r}") from None
        if engine is None:
            from ..cql import Engine

            engine = Engine(release_version=release_version or DEFAULT_RELEASE, cluster_name=cluster_name)
        elif release_version is not None and release_version != engine.release_version:
            raise CQLServerError(
                f"release_version {release_version!r} differs from the shared engine's {engine.release_version!r}"
            )
        self.engine = engine
        self.release_version: str = engine.release_version
        self.credentials: Mapping[str, str] | None = dict(credentials) if credentials is not None else None
        self.ssl_context = ssl_context
        self.datacenter, self.rack = datacenter, rack
        self.tokens = tuple(tokens) if tokens is not None else murmur3_tokens(1, 0)
        self.host_id = host_id or uuid.uuid4()
        self._host, self._port = host, port
        self._owns_hub = hub is None
        self.hub = hub or EventHub()
        self.faults = Faults(set_listening=self._set_listening, abort_connections=self._abort_connections)
        self.stats = Stats()
        self.node: NodeInfo | None = None
        self.queries: QueryRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._net = Listener(self._new_connection, ssl_context=ssl_context)
        self._stop_event: asyncio.Event | None = None
        self._started_once = False

    # -- public ------------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def contact_point(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> CQLServer:
        """Bind and serve in a background thread; returns self. A second call is a no-op."""
        if self._thread is not None:
            return self
        sock = self._bind()
        self._port = sock.getsockname()[1]
        from ..cql import NodeInfo

        self.node = NodeInfo(
            address=self._host,
            port=self._port,
            host_id=self.host_id,
            tokens=self.tokens,
            datacenter=self.datacenter,
            rack=self.rack,
        )
        self.queries = QueryRunner(self.engine, self.node, self.hub, self.stats)
        if self._owns_hub:
            self.engine.set_nodes([self.node])
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(loop, sock, ready, errors), name=f"cql-server-{self.contact_point}", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        if not ready.wait(_START_TIMEOUT) or errors:
            self.stop()
            raise CQLServerError(f"CQL test server on {self.contact_point} failed to start: {errors}")
        self.hub.join(self)
        if self._started_once:
            self.hub.node_status(self, True, self._host, self._port)
        self._started_once = True
        log.info("CQL test server listening on %s (release %s)", self.contact_point, self.release_version)
        return self

    def stop(self) -> None:
        """Close the listener and every connection, stop the thread. Idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        self.hub.leave(self)
        stop_event = self._stop_event
        if stop_event is not None:
            loop.call_soon_threadsafe(stop_event.set)
        thread.join(_START_TIMEOUT)
        self._thread = self._loop = None
        self.hub.node_status(self, False, self._host, self._port)
        log.info("CQL test server on %s stopped", self.contact_point)

    def __enter__(self) -> CQLServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<CQLServer {self.contact_point} {state} release={self.release_version}>"

    def push_event(self, kind: str, response: tuple[int, bytes]) -> None:
        """Send an EVENT to this node's connections registered for ``kind``; any thread."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the node is going down
            loop.call_soon_threadsafe(self._push, kind, response)

    # -- loop thread -------------------------------------------------------------------------------
    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        ready: threading.Event,
        errors: list[BaseException],
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock, ready))
        except BaseException as exc:
            errors.append(exc)
            sock.close()
            ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        self._stop_event = asyncio.Event()
        self._net.listen(sock)
        ready.set()
        await self._stop_event.wait()
        self._net.unlisten()
        await self._net.abort_all()
        self._stop_event = None

    def _push(self, kind: str, response: tuple[int, bytes]) -> None:
        for conn in list(self._net.conns):
            conn.push(kind, response)

    def _new_connection(self) -> Connection:
        return Connection(self, self._net.conns)

    # -- fault hooks -------------------------------------------------------------------------------
    def _set_listening(self, listening: bool) -> None:
        loop = self._loop
        if loop is None or listening == self._net.listening:
            return
        sock = self._bind() if listening else None

        async def switch() -> None:
            if sock is None:
                self._net.unlisten()
            elif not self._net.listening:
                self._net.listen(sock)
            else:
                sock.close()  # already listening

        asyncio.run_coroutine_threadsafe(switch(), loop).result(_START_TIMEOUT)

    def _abort_connections(self) -> int:
        loop = self._loop
        if loop is None:
            return 0
        return asyncio.run_coroutine_threadsafe(self._net.abort_all(), loop).result(_START_TIMEOUT)

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise CQLServerError(f"Cannot listen on {self._host}:{self._port}: {exc}") from exc
        sock.setblocking(False)
        return sock
