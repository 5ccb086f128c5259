"""Everything a request sees while its worker has no session: stand-ins that fail fast, and a clean 503.

Instead of waiting a connect timeout on every request during an outage, the middleware calls
:func:`serve_unavailable`, which puts stand-ins in the environ: an :class:`UnavailableSession` for the
session, an :class:`UnavailableStatements` for the prepared statements, ``None`` for the cluster. Routes
that never touch Cassandra work as usual; the first use of a stand-in raises
:class:`~wsgi_cassandra.exceptions.SessionUnavailable`, and the answer is ``503 Service Unavailable`` with
``Retry-After`` -- also when a framework caught the exception and answered 500 itself, which is why this
(slow, rare) path holds ``start_response`` back until the app's status is known. The ready path never
comes here and is not wrapped; its one exception handler (:func:`no_host_error`,
:func:`respond_503_after_error`) lives here too, for the moment an outage begins mid-request.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Union

from .exceptions import SessionUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, MutableMapping
    from types import TracebackType

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from cassandra.query import PreparedStatement

    # Union, not "|": a type alias is an expression, evaluated as Python 3.9 would (mypy --python-version 3.9).
    _ExcInfo = Union[tuple[type[BaseException], BaseException, TracebackType], tuple[None, None, None]]

__all__ = [
    "UNAVAILABLE_USED",
    "UnavailableSession",
    "UnavailableStatements",
    "mark_used",
    "no_host_error",
    "respond_503",
    "respond_503_after_error",
    "serve_unavailable",
]

UNAVAILABLE_USED = "wsgi_cassandra.unavailable"  # environ key: set once the stand-in was touched

# The environ (or ASGI scope) of the request being served without a session, for stand-ins that are not in
# it (cqlengine's registered connection): they mark it through mark_used().
serving_unavailable: ContextVar[MutableMapping[str, Any] | None] = ContextVar(
    "wsgi_cassandra_serving_unavailable", default=None
)


def mark_used(error: SessionUnavailable) -> None:
    """Record that a stand-in was used by the request being served without a session, if any: its
    framework's 500 then becomes the middleware's 503 (what :class:`UnavailableSession` does itself)."""
    request = serving_unavailable.get()
    if request is not None:
        request[UNAVAILABLE_USED] = error


class UnavailableSession:
    """Stands in for ``cassandra.cluster.Session`` while none is ready: any attribute use raises."""

    __slots__ = ("_environ", "_error")

    def __init__(self, error: SessionUnavailable, environ: WSGIEnvironment) -> None:
        self._error = error
        self._environ = environ

    def __getattr__(self, name: str) -> Any:
        self._environ[UNAVAILABLE_USED] = self._error
        raise self._error

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<UnavailableSession: {self._error.reason}>"


class UnavailableStatements:
    """Stands in for the prepared statements while no session is ready: looking one up raises."""

    __slots__ = ("_environ", "_error")

    def __init__(self, error: SessionUnavailable, environ: WSGIEnvironment) -> None:
        self._error, self._environ = error, environ

    def __getitem__(self, name: str) -> PreparedStatement:
        self._environ[UNAVAILABLE_USED] = self._error
        raise self._error

    def get(self, name: str, default: Any = None) -> PreparedStatement:
        return self[name]

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<UnavailableStatements: {self._error.reason}>"


def respond_503(start_response: StartResponse, error: SessionUnavailable, exc_info: Any = None) -> list[bytes]:
    body = f"503 Service Unavailable: {error.reason}\n".encode("utf-8", "replace")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(error.retry_after)),
        ("Cache-Control", "no-store"),
    ]
    start_response("503 Service Unavailable", headers, exc_info)
    return [body]


def respond_503_after_error(start_response: StartResponse, error: SessionUnavailable, exc_info: Any) -> list[bytes]:
    """Answer 503 for an exception the app raised. Without ``exc_info`` first: the app usually had not
    called ``start_response`` yet, and uWSGI fails (``SystemError``) when given ``exc_info`` then; if the
    app had set a status, the server refuses a second call unless ``exc_info`` is passed -- so pass it.
    """
    try:
        return respond_503(start_response, error)
    except Exception:
        return respond_503(start_response, error, exc_info)


def no_host_error(exc: BaseException) -> SessionUnavailable | None:
    """The 503 for a driver ``NoHostAvailable`` that escaped the app, or ``None`` for any other error.

    The session was live when the request started, but every host went away while it ran (the moment
    an outage begins, before the driver has marked the last host down). It is the same condition the
    middleware answers with 503 a few milliseconds later, so it gets the same answer, not a 500.
    """
    if type(exc).__name__ != "NoHostAvailable":
        return None
    errors = getattr(exc, "errors", None)
    causes = sorted({type(e).__name__ for e in errors.values()}) if isinstance(errors, dict) and errors else []
    detail = f" ({', '.join(causes)})" if causes else ""
    return SessionUnavailable(
        f"no Cassandra host could serve this request{detail}; the driver is reconnecting in the background",
        retry_after=2,
    )


def serve_unavailable(
    app: WSGIApplication,
    environ: WSGIEnvironment,
    start_response: StartResponse,
    error: SessionUnavailable,
    *,
    session_key: str,
    cluster_key: str,
    statements_key: str,
    convert: bool,
) -> Iterable[bytes]:
    """Call ``app`` with the stand-ins; with ``convert``, answer 503 if the app failed because of them."""
    environ[session_key] = UnavailableSession(error, environ)
    environ[cluster_key] = None
    environ[statements_key] = UnavailableStatements(error, environ)
    if not convert:
        return app(environ, start_response)
    deferred = _DeferredStart(start_response)
    serving = serving_unavailable.set(environ)
    try:
        try:
            body = app(environ, deferred)
        except SessionUnavailable as exc:
            if deferred.sent:  # write() already sent a status: no second start_response, the server aborts
                raise
            return respond_503(start_response, exc)
        try:
            chunks = iter(body)
            first = _first_chunk(chunks)
        except BaseException as exc:  # the server never sees this body, so closing it is ours to do
            _close(body)
            if deferred.sent or not isinstance(exc, SessionUnavailable):
                raise
            return respond_503(start_response, exc)
    finally:
        serving_unavailable.reset(serving)
    used = environ.get(UNAVAILABLE_USED)
    if isinstance(used, SessionUnavailable) and not deferred.sent and deferred.status.startswith("5"):
        _close(body)
        return respond_503(start_response, used)
    deferred.send()
    return _Replay(first, chunks, body)


class _DeferredStart:
    """The ``start_response`` the app gets on this path: it records the status and headers, and passes
    them on only once we know the answer is the app's (:meth:`send`), or when the app calls the legacy
    ``write()``, which commits to its response at once."""

    __slots__ = ("_start_response", "_write", "exc_info", "headers", "status")

    def __init__(self, start_response: StartResponse) -> None:
        self._start_response = start_response
        self._write: Callable[[bytes], object] | None = None
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.exc_info: _ExcInfo | None = None

    @property
    def sent(self) -> bool:
        return self._write is not None

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if self.status and exc_info is None:
            raise AssertionError("start_response called twice without exc_info")
        self.status, self.headers, self.exc_info = status, headers, exc_info
        return self.write

    def write(self, data: bytes) -> object:
        if self._write is None:
            self._write = self._start_response(self.status, self.headers, self.exc_info)
        return self._write(data)

    def send(self) -> None:
        """Pass the app's status on, unless ``write()`` already did (or the app never called us)."""
        if self._write is None and self.status:
            self._start_response(self.status, self.headers, self.exc_info)


def _first_chunk(chunks: Iterator[bytes]) -> list[bytes]:
    # Apps may call start_response lazily, on first iteration: pull one chunk so the status is known.
    for chunk in chunks:
        return [chunk]
    return []


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


class _Replay:
    """The app's body with its first chunk put back, forwarding ``close()`` as WSGI requires."""

    __slots__ = ("_body", "_chunks", "_first")

    def __init__(self, first: list[bytes], chunks: Iterator[bytes], body: Iterable[bytes]) -> None:
        self._first, self._chunks, self._body = first, chunks, body

    def __iter__(self) -> Iterator[bytes]:
        yield from self._first
        yield from self._chunks

    def close(self) -> None:
        _close(self._body)
