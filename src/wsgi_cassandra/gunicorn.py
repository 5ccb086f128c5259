"""Gunicorn server hooks: every worker builds its Cassandra session after the fork, before it accepts.

Three ways to use them::

    # 1. no config file of your own
    gunicorn -c python:wsgi_cassandra.gunicorn app:application

    # 2. in your gunicorn.conf.py
    from wsgi_cassandra.gunicorn import post_fork, post_worker_init, worker_exit

    # 3. in a gunicorn.conf.py that already has hooks: compose, never replace
    from wsgi_cassandra.gunicorn import chain
    def post_fork(server, worker): ...            # yours
    globals().update(chain(post_fork=post_fork))  # yours first, then ours; the other two are ours

They follow Gunicorn's contract: ``post_fork(server, worker)`` runs in the new worker *before* the app is
loaded (unless ``--preload``), so it only starts connecting sessions that already exist -- except in
gevent/eventlet workers, which monkey-patch only after it: there it starts nothing;
``post_worker_init(worker)`` runs after the app is loaded (and after gevent/eventlet monkey-patching)
and waits, bounded by ``warm_timeout``, so that the worker accepts requests only once warm or once the
deadline passed; ``worker_exit(server, worker)`` shuts the session down, bounded by ``shutdown_timeout``.
An exception in a boot hook halts the whole Gunicorn server, so these hooks never raise: a Cassandra that
is down is logged (one line per worker saying what happened) and retried in the background, and requests
get a 503 until it is back.

The hooks also show the library's own log lines ("session ready in N ms", connect failures) in
Gunicorn's error log, at INFO and above (as Gunicorn's ``--log-level`` allows), in Gunicorn's format --
unless the app configured logging itself (a handler on the root or the ``wsgi_cassandra`` logger), which
then shows them instead, never twice.

This module does not import ``gunicorn``. Without any hook configured, the ``gunicorn`` warmer installs
the same hooks by itself where it can (see :mod:`wsgi_cassandra.warmers.gunicorn_warmer`).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

from .holder import all_holders

__all__ = ["chain", "compose", "post_fork", "post_worker_init", "worker_exit"]

log = logging.getLogger(__name__)

HOOK_MARK = "_wsgi_cassandra_hook"  # set on our hooks, and on compositions that contain one


def post_fork(server: Any, worker: Any) -> None:
    """In the new worker, before the app loads: start connecting the sessions that exist (``--preload``);
    in gevent/eventlet workers, nothing (they have not monkey-patched yet)."""
    try:
        route_logs(getattr(server, "log", None))
        if is_green(worker):
            log.debug("pid %d: %s worker, connecting after it monkey-patches", os.getpid(), type(worker).__name__)
            return
        for holder in all_holders():
            holder.start()
    except Exception:
        log.exception("pid %d: starting the Cassandra connect after the fork failed", os.getpid())


def post_worker_init(worker: Any) -> None:
    """After the app loaded: wait (bounded) until every session is ready, so requests find it warm."""
    from .warmers.report import warm_and_report

    try:
        route_logs(getattr(worker, "log", None))
        for holder in all_holders():
            warm_and_report(holder, log)
    except Exception:
        log.exception("pid %d: warming the Cassandra session failed", os.getpid())


def worker_exit(server: Any, worker: Any) -> None:
    """When the worker exits: close its sessions, bounded. A no-op in the arbiter (it owns none)."""
    if getattr(worker, "pid", os.getpid()) != os.getpid():
        return
    for holder in all_holders():
        try:
            holder.shutdown()
        except Exception:
            log.exception("pid %d: shutting down the Cassandra session failed", os.getpid())


def is_green(worker: Any) -> bool:
    """Whether ``worker`` is a gevent or eventlet worker (it monkey-patches in ``init_process``)."""
    kind = f"{type(worker).__module__}.{type(worker).__name__}".lower()
    return "gevent" in kind or "eventlet" in kind


class _ToGunicornLog(logging.Handler):
    """Hands ``wsgi_cassandra`` records to Gunicorn's error log, unless the app shows them itself."""

    def __init__(self, error_log: logging.Logger) -> None:
        super().__init__(logging.INFO)
        self.error_log = error_log

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < self.error_log.getEffectiveLevel() or _app_shows_logs(self):
            return
        self.error_log.handle(record)


def _app_shows_logs(ours: logging.Handler) -> bool:
    own = [handler for handler in logging.getLogger("wsgi_cassandra").handlers if handler is not ours]
    return bool(own or logging.getLogger().handlers)


def route_logs(gunicorn_log: Any) -> None:
    """Show ``wsgi_cassandra`` records at INFO and above in Gunicorn's error log (once per process tree)."""
    error_log = getattr(gunicorn_log, "error_log", None)
    if not isinstance(error_log, logging.Logger):
        return
    library = logging.getLogger("wsgi_cassandra")
    if any(isinstance(handler, _ToGunicornLog) for handler in library.handlers):
        return
    library.addHandler(_ToGunicornLog(error_log))
    if library.level == logging.NOTSET:
        library.setLevel(logging.INFO)


for _hook in (post_fork, post_worker_init, worker_exit):
    setattr(_hook, HOOK_MARK, True)

OURS: dict[str, Callable[..., None]] = {
    "post_fork": post_fork,
    "post_worker_init": post_worker_init,
    "worker_exit": worker_exit,
}


def is_ours(hook: object) -> bool:
    """Whether ``hook`` is one of these hooks or a composition containing one."""
    return bool(getattr(hook, HOOK_MARK, False))


def compose(*hooks: Callable[..., object]) -> Callable[..., None]:
    """One hook that calls each of ``hooks`` in order with the same arguments.

    The result keeps the arity of the first hook (Gunicorn checks a hook's arity). If one raises, the
    others still run and the first exception is re-raised afterwards: ours never raise, and yours keep
    Gunicorn's semantics.
    """
    if not hooks:
        raise TypeError("compose() needs at least one hook")
    hooks = tuple(dict.fromkeys(hooks))  # the same function twice would run twice

    def run_all(*args: Any) -> None:
        error: BaseException | None = None
        for hook in hooks:
            try:
                hook(*args)
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error

    arity = _arity(hooks[0])
    composed: Callable[..., None]
    if arity == 1:

        def composed(a: Any) -> None:
            run_all(a)

    elif arity == 2:

        def composed(a: Any, b: Any) -> None:
            run_all(a, b)

    else:

        def composed(*args: Any) -> None:
            run_all(*args)

    composed.__name__ = composed.__qualname__ = getattr(hooks[0], "__name__", "composed_hook")
    if any(is_ours(hook) for hook in hooks):
        setattr(composed, HOOK_MARK, True)
    return composed


def chain(**theirs: Callable[..., object]) -> dict[str, Callable[..., object]]:
    """Our three hooks, each composed after the hook of the same name you pass (yours run first).

    Accepts only ``post_fork``, ``post_worker_init`` and ``worker_exit``; ``globals().update(...)`` it in
    your ``gunicorn.conf.py``.
    """
    unknown = sorted(set(theirs) - set(OURS))
    if unknown:
        raise TypeError(f"chain() got hooks it does not handle: {unknown}; accepted: {sorted(OURS)}")
    result: dict[str, Callable[..., object]] = {}
    for name, ours in OURS.items():
        mine = theirs.get(name)
        if mine is None:
            result[name] = ours
        elif is_ours(mine):  # already contains ours (chained twice): keep it whole, add nothing
            result[name] = mine
        else:
            result[name] = compose(mine, ours)
    return result


def _arity(hook: Callable[..., object]) -> int:
    import inspect

    try:
        parameters = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):
        return -1
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in positional)
