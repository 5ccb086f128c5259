"""The accepting side of one node: a listening socket, connections being set up, and open connections.

It lives on the node's event loop thread and owns every socket it accepts until that socket is closed, so
a stop (or a fault that drops all connections) leaves nothing for the garbage collector. Sockets are
accepted from a reader callback rather than ``loop.sock_accept`` in a task: a task cancelled after
``sock_accept`` had accepted, but before it resumed, dropped that socket unclosed (a ResourceWarning at the
next collection). Here each accepted socket is tracked before the callback returns::

    listener = Listener(lambda: Connection(node), ssl_context=None)
    listener.listen(bound_socket)        # on the loop thread
    ...
    listener.unlisten()                  # new connections refused
    await listener.abort_all()           # every open or half-set-up connection closed, and gone
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

    from ._connection import Connection

log = logging.getLogger(__name__)

_ACCEPT_BATCH = 64  # connections accepted per wake-up, like asyncio's own servers
_DRAIN_STEPS = 110  # loop iterations (then 10 ms sleeps) to wait for connection_lost: about 1 s
_HANDSHAKE_TIMEOUT = 10.0


class Listener:
    """Accepts connections for one node and tracks them (loop thread only)."""

    def __init__(self, factory: Callable[[], Connection], *, ssl_context: ssl.SSLContext | None) -> None:
        self._factory = factory
        self._ssl_context = ssl_context
        self._sock: socket.socket | None = None
        self._name = ""
        self._pending: dict[socket.socket, asyncio.Task[None]] = {}
        self.conns: set[Connection] = set()  # added by connection_made, removed by connection_lost

    @property
    def listening(self) -> bool:
        return self._sock is not None

    def listen(self, sock: socket.socket) -> None:
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self._name = f"{host}:{port}"
        asyncio.get_event_loop().add_reader(sock.fileno(), self._accept, sock)

    def unlisten(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            asyncio.get_event_loop().remove_reader(sock.fileno())
            sock.close()  # connections still in the backlog are reset by the kernel

    async def abort_all(self) -> int:
        """Close every connection, including those still being set up, and wait until each is gone."""
        pending = list(self._pending.items())
        for _, task in pending:
            task.cancel()
        await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
        for sock, task in pending:
            self._pending.pop(sock, None)  # a task cancelled before it ran never reached its finally
            if task.cancelled():  # its transport (if it got one) is closed; the socket may never have been used
                sock.close()
        conns = list(self.conns)
        for conn in conns:
            conn.abort()
        # connection_lost (socket closed, counter down) runs a loop iteration or two after abort().
        for step in range(_DRAIN_STEPS):
            if not self.conns:
                break
            await asyncio.sleep(0 if step < 10 else 0.01)
        return len(conns)

    def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_event_loop()
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: keep serving the open connections, retry a little later
                log.warning("CQL test server on %s: accept failed: %s", self._name, exc)
                loop.remove_reader(listener.fileno())
                loop.call_later(0.05, self._resume_accepting, listener)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pending[sock] = loop.create_task(self._adopt(sock))

    def _resume_accepting(self, listener: socket.socket) -> None:
        if self._sock is listener:
            asyncio.get_event_loop().add_reader(listener.fileno(), self._accept, listener)

    async def _adopt(self, sock: socket.socket) -> None:
        # Python 3.9's AbstractEventLoop does not declare connect_accepted_socket; its event loops have it.
        loop = cast("asyncio.BaseEventLoop", asyncio.get_event_loop())
        try:
            if self._ssl_context is None:
                await loop.connect_accepted_socket(self._factory, sock)
            else:
                await loop.connect_accepted_socket(
                    self._factory, sock, ssl=self._ssl_context, ssl_handshake_timeout=_HANDSHAKE_TIMEOUT
                )
        except (OSError, asyncio.TimeoutError) as exc:  # ssl.SSLError is an OSError
            log.info("CQL test server on %s: connection setup failed: %s", self._name, exc)
            sock.close()
        finally:
            self._pending.pop(sock, None)
