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
from typing import TYPE_CHECKING, Any

from .connection import Connection
from .events import EventHub
from .faults import Faults
from .statements import Statements
from .stats import Stats

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    from .cql import NodeInfo

log = logging.getLogger(__name__)

DEFAULT_RELEASE = "4.1.5"
_START_TIMEOUT = 10.0
_ACCEPT_BATCH = 64  # connections accepted per wake-up, like asyncio's own servers
_DRAIN_STEPS = 110  # loop iterations (then 10 ms sleeps) to wait for connection_lost at stop: ~1 s


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
        engine: Any = None,
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
            from .cql import Engine

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
        self.faults = Faults(self)
        self.stats = Stats()
        self.node: NodeInfo | None = None
        self.statements: Statements | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._pending: dict[socket.socket, asyncio.Task[None]] = {}
        self._stop_event: asyncio.Event | None = None
        self._conns: set[Connection] = set()
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
        from .cql import NodeInfo

        self.node = NodeInfo(
            address=self._host,
            port=self._port,
            host_id=self.host_id,
            tokens=self.tokens,
            datacenter=self.datacenter,
            rack=self.rack,
        )
        self.statements = Statements(self.engine, self.node, self.hub)
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
        self._listen(sock)
        ready.set()
        await self._stop_event.wait()
        self._unlisten()
        await self._abort_all()
        self._stop_event = None

    def _listen(self, sock: socket.socket) -> None:
        self._listener = sock
        asyncio.get_event_loop().add_reader(sock.fileno(), self._accept, sock)

    def _unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            asyncio.get_event_loop().remove_reader(listener.fileno())
            listener.close()  # connections still in the backlog are reset by the kernel

    def _accept(self, listener: socket.socket) -> None:
        """Accept from a reader callback, not ``sock_accept`` in a task, so no accepted socket is ever lost.

        A task cancelled at stop after ``sock_accept`` had accepted a socket, but before it resumed, dropped
        that socket: nobody closed it (a ResourceWarning at the next garbage collection). Here every
        accepted socket is in ``_pending`` before this callback returns, and stop closes whatever is there.
        """
        loop = asyncio.get_event_loop()
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: keep serving the open connections, retry a little later
                log.warning("CQL test server on %s: accept failed: %s", self.contact_point, exc)
                loop.remove_reader(listener.fileno())
                loop.call_later(0.05, self._resume_accepting, listener)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pending[sock] = loop.create_task(self._adopt(sock))

    def _resume_accepting(self, listener: socket.socket) -> None:
        if self._listener is listener:
            asyncio.get_event_loop().add_reader(listener.fileno(), self._accept, listener)

    async def _adopt(self, sock: socket.socket) -> None:
        loop = asyncio.get_event_loop()
        try:
            if self.ssl_context is None:
                await loop.connect_accepted_socket(lambda: Connection(self), sock)
            else:
                await loop.connect_accepted_socket(
                    lambda: Connection(self), sock, ssl=self.ssl_context, ssl_handshake_timeout=10.0
                )
        except (OSError, asyncio.TimeoutError) as exc:  # ssl.SSLError is an OSError
            log.info("CQL test server on %s: connection setup failed: %s", self.contact_point, exc)
            sock.close()
        finally:
            self._pending.pop(sock, None)

    async def _abort_all(self) -> int:
        """Close every connection, including those still being set up, and wait until each is gone."""
        pending = list(self._pending.items())
        for _, task in pending:
            task.cancel()
        await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
        for sock, task in pending:
            self._pending.pop(sock, None)  # a task cancelled before it ran never reached its finally
            if task.cancelled():  # its transport (if it got one) is closed; the socket may never have been used
                sock.close()
        conns = list(self._conns)
        for conn in conns:
            conn.abort()
        # connection_lost (socket closed, counter down) runs a loop iteration or two after abort().
        for step in range(_DRAIN_STEPS):
            if not self._conns:
                break
            await asyncio.sleep(0 if step < 10 else 0.01)
        return len(conns)

    def _push(self, kind: str, response: tuple[int, bytes]) -> None:
        for conn in list(self._conns):
            conn.push(kind, response)

    def _attach(self, conn: Connection) -> None:
        self._conns.add(conn)

    def _detach(self, conn: Connection) -> None:
        self._conns.discard(conn)

    # -- fault hooks -------------------------------------------------------------------------------
    def _set_listening(self, listening: bool) -> None:
        loop = self._loop
        if loop is None or listening == (self._listener is not None):
            return
        sock = self._bind() if listening else None

        async def switch() -> None:
            if sock is None:
                self._unlisten()
            elif self._listener is None:
                self._listen(sock)
            else:
                sock.close()  # already listening

        asyncio.run_coroutine_threadsafe(switch(), loop).result(_START_TIMEOUT)

    def _abort_connections(self) -> int:
        loop = self._loop
        if loop is None:
            return 0
        return asyncio.run_coroutine_threadsafe(self._abort_all(), loop).result(_START_TIMEOUT)

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
