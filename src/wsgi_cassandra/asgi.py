"""ASGI: every request finds the worker's ready Cassandra session in its scope, and awaits the driver.

::

    from wsgi_cassandra.asgi import CassandraASGIMiddleware, execute

    app = CassandraASGIMiddleware(starlette_app, keyspace="shop")   # same settings as CassandraMiddleware

    async def items(request):                                       # a Starlette/FastAPI route
        rows = await execute(request.scope["cassandra.session"], "SELECT name FROM items")
        ...

The session is the one :class:`~wsgi_cassandra.middleware.CassandraMiddleware` builds: same settings, same
per-process :class:`~wsgi_cassandra.holder.SessionHolder` (a session is never used in a process other
than the one that built it), same ``503`` with ``Retry-After`` while none is ready, same health endpoint.
What ASGI changes is *when* and *where* it connects: in each worker's lifespan start-up (after the fork
under ``gunicorn -k uvicorn_worker.UvicornWorker``, in each spawned process under ``uvicorn --workers``),
in a thread, because the driver's connect blocks and the event loop must not. The session is closed at
lifespan shutdown. Without lifespan (``uvicorn --lifespan off``) the first request connects, off the loop.

:func:`execute` is the awaitable ``Session.execute``: it bridges the driver's ``ResponseFuture`` to the
running loop, so a route awaits a query without blocking the other requests of its worker.

The middleware is pure ASGI (no framework is imported); ``starlette`` is only what the tests and recipes
use. Nothing here runs at import of :mod:`wsgi_cassandra`, which does not import this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from os import getpid
from typing import TYPE_CHECKING, Any, Callable, Union

from .exceptions import ConfigurationError, SessionUnavailable
from .health import health_response
from .middleware import CassandraMiddleware
from .unavailable import (
    UNAVAILABLE_USED,
    UnavailableSession,
    UnavailableStatements,
    no_host_error,
    respond_503,
    serving_unavailable,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable, MutableMapping
    from types import TracebackType

    from cassandra.cluster import ResponseFuture, ResultSet, Session

    from .config import Settings
    from .connect import Connected
    from .holder import SessionHolder
    from .metrics import Metrics
    from .warmers import Warmer

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
    _ExcInfo = Union[tuple[type[BaseException], BaseException, TracebackType], tuple[None, None, None]]

__all__ = ["CassandraASGIMiddleware", "execute"]

log = logging.getLogger(__name__)

# The WSGI middleware's names for the keys, and ours: an ASGI app has a scope, not an environ.
_SCOPE_KEYS = {
    "environ_key": "scope_key",
    "cluster_environ_key": "cluster_scope_key",
    "statements_environ_key": "statements_scope_key",
}


class CassandraASGIMiddleware:
    """Wrap an ASGI app so that ``scope[scope_key]`` holds this worker's ready ``Session``.

    Every keyword argument of :class:`~wsgi_cassandra.middleware.CassandraMiddleware` is accepted and
    resolved by it (environment variables, validation, the ``warmer``), except its three environ keys,
    which are ``scope_key``, ``cluster_scope_key`` and ``statements_scope_key`` here. Bad settings raise
    :class:`~wsgi_cassandra.exceptions.ConfigurationError` here, not at the first request.
    ``scope[cluster_scope_key]`` holds the ``Cluster`` and ``scope[statements_scope_key]`` the declared
    statements, prepared during the warm-up. ``on_unavailable="503"`` (default) answers ``503`` with
    ``Retry-After`` when an HTTP route touches the session while none is ready (also when the framework
    turned the error into its own 500); ``"app"`` lets the app handle
    :class:`~wsgi_cassandra.exceptions.SessionUnavailable`. WebSocket scopes get the session or the stand-in,
    never a converted answer. ``metrics_path`` serves the same Prometheus scrape as the WSGI middleware
    (with the same figures, the 503s answered for lack of a session included).
    """

    __slots__ = (
        "_app",
        "_cluster_key",
        "_convert",
        "_core",
        "_health",
        "_key",
        "_metrics",
        "_pending",
        "_statements_key",
        "holder",
        "settings",
        "warmer",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        scope_key: str = "cassandra.session",
        cluster_scope_key: str = "cassandra.cluster",
        statements_scope_key: str = "cassandra.statements",
        **settings: Any,
    ) -> None:
        if not callable(app):
            raise ConfigurationError(f"app = {app!r} is not an ASGI application (not callable)")
        for wsgi_name, ours in _SCOPE_KEYS.items():
            if wsgi_name in settings:
                raise ConfigurationError(f"{wsgi_name}= is the WSGI middleware's; for ASGI, pass {ours}=")
        # The WSGI middleware's constructor is the one place where settings are resolved, the holder is
        # built and the warmer installed: build one (its WSGI side is never called) and keep those.
        core = CassandraMiddleware(_not_a_wsgi_app, **settings)
        self.settings: Settings = core.settings
        self.holder: SessionHolder = core.holder
        self.warmer: Warmer = core.warmer
        self._core = core  # its shutdown() also closes what the settings added (cqlengine's session)
        self._app = app
        self._key = scope_key
        self._cluster_key = cluster_scope_key
        self._statements_key = statements_scope_key
        self._convert = self.settings.on_unavailable == "503"
        self._health = self.settings.health_path
        self._metrics: Metrics | None = core._metrics  # the core's: one implementation, one set of figures
        self._pending: asyncio.Future[Connected | None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            if kind == "lifespan":
                return await self._lifespan(scope, receive, send)
            return await self._app(scope, receive, send)
        if self._health is not None and kind == "http" and scope["path"] == self._health:
            return await _send_response(send, lambda start_response: health_response(self.holder, start_response))
        metrics = self._metrics
        if metrics is not None and kind == "http" and scope["path"] == metrics.path:
            return await _send_response(send, metrics.response)
        # The fast path, as in the WSGI middleware: this process's ready connection, checked against the
        # pid that built it, so that a forked child never uses its parent's session.
        state = self.holder.state
        live = state.live
        if live is None or state.pid != getpid():
            return await self._not_ready(scope, receive, send)
        return await self._serve(live, scope, receive, send)

    async def _serve(self, live: Connected, scope: Scope, receive: Receive, send: Send) -> None:
        # A copy, as the ASGI spec asks of middleware that adds to the scope (nothing leaks upstream).
        scope = {
            **scope,
            self._key: live.session,
            self._cluster_key: live.cluster,
            self._statements_key: live.statements,
        }
        try:
            await self._app(scope, receive, send)
        except Exception as exc:  # see unavailable.no_host_error: every host went away during the request
            no_host = no_host_error(exc) if self._convert and scope["type"] == "http" else None
            if no_host is None:
                raise
            try:
                await self._answer_503(send, no_host)
            except Exception:  # the app had started its response: the server refuses a second one
                sent = False
            else:
                sent = True
            if not sent:
                raise

    async def _not_ready(self, scope: Scope, receive: Receive, send: Send) -> None:
        """No ready session in this process yet (no lifespan, forked child, outage): connect or fail fast."""
        holder = self.holder
        connected = holder.get(0)  # never waits; starts connecting in the background if nothing is
        if connected is None and not holder.state.attempted.is_set():
            connected = await self._first_attempt()
        if connected is not None:
            return await self._serve(connected, scope, receive, send)
        error = holder.unavailable()
        scope = dict(scope)
        scope[self._key] = UnavailableSession(error, scope)
        scope[self._cluster_key] = None
        scope[self._statements_key] = UnavailableStatements(error, scope)
        if self._metrics is not None and scope["type"] == "http":
            send = _counting_503(send, self._metrics)
        if not self._convert or scope["type"] != "http":
            return await self._app(scope, receive, send)
        guard = _Guard(send, scope)
        serving = serving_unavailable.set(scope)  # for stand-ins not in the scope (cqlengine's)
        try:
            await self._app(scope, receive, guard)
        except Exception as exc:
            if guard.replaced:  # the 503 went out instead of the framework's 500 for this very error
                return
            if guard.started or not isinstance(exc, SessionUnavailable):
                raise
            await _send_503(send, exc)
        finally:
            serving_unavailable.reset(serving)

    async def _answer_503(self, send: Send, error: SessionUnavailable) -> None:
        if self._metrics is not None:
            send = _counting_503(send, self._metrics)
        await _send_503(send, error)

    async def _first_attempt(self) -> Connected | None:
        """Wait, in a thread, for this process's first connect attempt (bounded by ``warm_timeout``);
        concurrent requests of one loop share the wait instead of taking a thread each."""
        loop = asyncio.get_running_loop()
        pending = self._pending
        if pending is None or pending.done() or pending.get_loop() is not loop:
            pending = self._pending = loop.run_in_executor(None, self.holder.get)
        return await asyncio.shield(pending)

    # --- lifespan: warm at start-up, close at shutdown --------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        spoke = False

        async def receive_and_act() -> Message:
            nonlocal spoke
            spoke = True
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()  # before the app's own start-up handlers, which may use the session
            return message

        async def send_and_act(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.shutdown()  # after the app's own shutdown handlers
            await send(message)

        try:
            await self._app(scope, receive_and_act, send_and_act)
        except Exception:
            if spoke:
                raise
            log.debug("the app does not support lifespan; the middleware answers it")
        if not spoke:  # an app that ignores lifespan (returned or raised at once): answer it ourselves
            await self._answer_lifespan(receive, send)

    async def _answer_lifespan(self, receive: Receive, send: Send) -> None:
        for _ in range(2):  # lifespan is two messages: startup, then shutdown
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> bool:
        """Warm this worker's session in a thread (the loop keeps running), bounded by ``warm_timeout``.

        What the lifespan start-up does; ``True`` when the session is ready. A worker whose Cassandra is
        not there starts anyway: it answers ``503`` and keeps connecting in the background.
        """
        ready = await asyncio.get_running_loop().run_in_executor(None, self.holder.warm)
        if not ready and not self.holder.closed:
            log.warning(
                "pid %d: Cassandra session not ready within %.1f s; the worker serves anyway (503 until "
                "ready) and keeps retrying in the background",
                getpid(),
                self.holder.warm_timeout,
            )
        return ready

    async def shutdown(self) -> bool:
        """Close this worker's Cluster in a thread, bounded by ``shutdown_timeout`` (lifespan shutdown)."""
        return await asyncio.get_running_loop().run_in_executor(None, self._core.shutdown)

    def __repr__(self) -> str:
        return f"<CassandraASGIMiddleware {self.settings!r} warmer={self.warmer.name!r}>"


async def execute(session: Session, query: Any, params: Any = None, **kwargs: Any) -> ResultSet:
    """``await execute(session, query, params)``: ``session.execute`` without blocking the event loop.

    Sends the query with ``session.execute_async`` (any of its keyword arguments may be given:
    ``timeout``, ``execution_profile``, ``paging_state``...) and resolves an ``asyncio.Future`` of the
    running loop from the driver's callbacks (``loop.call_soon_threadsafe``: they run on the driver's
    I/O thread). Errors are raised as ``session.execute`` raises them; the driver's request ``timeout``
    bounds the wait.

    Paging: like the driver, it returns the ``ResultSet`` holding the **first page**. Iterating that
    ``ResultSet`` past its page fetches the next one *synchronously* (blocking the loop); instead read
    ``result.current_rows`` and, while ``result.has_more_pages``, ask for the next page with
    ``await execute(session, query, params, paging_state=result.paging_state)``.

    Cancelling the awaiting task gives up on the answer (the CQL protocol cannot cancel a request, so
    the node still runs it and the driver drops the late reply).
    """
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[ResultSet] = loop.create_future()
    response: ResponseFuture = session.execute_async(query, params, **kwargs)
    # The request is queued for the driver's I/O thread, which needs the GIL to write it; this thread
    # would hold the GIL until the loop next blocks or the switch interval (5 ms) ends, so a busy loop
    # delays every request it sends. Handing the GIL over now doubles a busy worker's throughput
    # (bench/throughput.py) and costs only the write itself.
    time.sleep(0)

    def on_rows(rows: Any) -> None:  # the driver's thread (or this one, when already answered)
        from cassandra.cluster import ResultSet

        _settle(loop, waiter, ResultSet(response, rows), None)  # what ResponseFuture.result() returns

    def on_error(error: BaseException) -> None:
        _settle(loop, waiter, None, error)

    response.add_callbacks(on_rows, on_error)
    try:
        return await waiter
    finally:
        # Fetching more pages through the ResultSet would call these again; and a cancelled wait drops them.
        response.clear_callbacks()


def _settle(loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any], result: Any, error: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(_set, waiter, result, error)


def _set(waiter: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if waiter.done():  # cancelled meanwhile
        return
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(result)


class _Guard:
    """``send`` for a request served with the stand-in session: the framework's 5xx becomes our 503.

    The stand-in marks the scope when used (``UNAVAILABLE_USED``) before the app answers, so the status
    is known when ``http.response.start`` goes out: no buffering, and the ready path never comes here.
    """

    __slots__ = ("_scope", "_send", "replaced", "started")

    def __init__(self, send: Send, scope: Scope) -> None:
        self._send, self._scope = send, scope
        self.started = self.replaced = False

    async def __call__(self, message: Message) -> None:
        if self.replaced:
            return  # the rest of the framework's error page
        if message["type"] == "http.response.start":
            used = self._scope.get(UNAVAILABLE_USED)
            if isinstance(used, SessionUnavailable) and int(message.get("status", 200)) >= 500:
                self.started = self.replaced = True
                await _send_503(self._send, used)
                return
            self.started = True
        await self._send(message)


def _counting_503(send: Send, metrics: Metrics) -> Send:
    """``send`` that counts the 503s answered for lack of a session (as ``Metrics.counting_503`` does)."""

    async def counted(message: Message) -> None:
        if message["type"] == "http.response.start" and int(message.get("status", 200)) == 503:
            metrics.count_503()
        await send(message)

    return counted


def _not_a_wsgi_app(environ: Any, start_response: Any) -> Iterable[bytes]:
    raise RuntimeError("CassandraASGIMiddleware's WSGI side is never called")  # pragma: no cover


async def _send_503(send: Send, error: SessionUnavailable) -> None:
    await _send_response(send, lambda start_response: respond_503(start_response, error))


async def _send_response(send: Send, respond: Callable[[Any], Iterable[bytes]]) -> None:
    """Send what a WSGI-style responder (``respond(start_response)``) answers, as ASGI messages: the
    503 and the health answer are written once, in :mod:`wsgi_cassandra.unavailable` and ``health``."""
    answered: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        answered.append((status, headers))
        return _no_write

    body = b"".join(respond(start_response))
    status, headers = answered[-1]
    await send(
        {
            "type": "http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _no_write(data: bytes) -> object:  # pragma: no cover - our responders return their body
    raise RuntimeError("write() is not supported here")
