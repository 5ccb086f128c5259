"""The ``uwsgi`` warmer: each uWSGI worker builds its session right after the fork, before it accepts.

uWSGI forks its workers in C, so ``os.register_at_fork`` never runs there (unless
``--py-call-osafterfork``); its own post-fork hook does. This warmer registers through
``uwsgidecorators.postfork``, which chains, and knows uWSGI's traps:

- without ``--master``, ``uwsgidecorators`` refuses to import (a plain ``Exception``); the hook is then
  chained onto ``uwsgi.post_fork_hook`` directly, keeping any hook already there (it runs in every
  worker, including worker 1, which is the process that loaded the app);
- with ``--lazy-apps`` the app is loaded in the worker after the fork and ``@postfork`` never fires for
  it: the warmer sees ``uwsgi.worker_id() > 0`` and warms at once, while the middleware is being built;
- post-fork hooks also run in mules and spoolers: they are skipped unless ``UWSGIWarmer(mules=True)``
  / ``spoolers=True``;
- the driver needs Python threads: uWSGI 2.0.31 enables them by default, older versions only with
  ``--enable-threads`` or ``--threads``. With ``uwsgi.has_threads`` false the middleware refuses to
  start with a :class:`~wsgi_cassandra.exceptions.ConfigurationError` that says so (no warmer could help:
  the driver's event loop would starve while the worker waits for requests);
- the worker's session is shut down on exit through ``uwsgi.atexit``, chained with any existing one
  and bounded by ``shutdown_timeout``.

The warm-up in the hook is bounded by ``warm_timeout``: an absent Cassandra never keeps a worker from
booting; it keeps retrying in the background and answers 503 until ready.
"""

from __future__ import annotations

import logging
import os
import sys
import weakref
from typing import TYPE_CHECKING, Any, Callable

from ..exceptions import ConfigurationError, WarmerUnavailable
from .report import warm_and_report

if TYPE_CHECKING:
    from types import ModuleType

    from ..holder import SessionHolder

__all__ = ["UWSGIWarmer", "threads_problem"]

log = logging.getLogger(__name__)

# Holders to warm after each fork, with whether mules / spoolers want them too.
_installed: weakref.WeakKeyDictionary[SessionHolder, tuple[bool, bool]] = weakref.WeakKeyDictionary()
_hooked_pid: int | None = None  # the process that registered the post-fork and atexit hooks


def _import_uwsgi() -> ModuleType:
    try:
        import uwsgi
    except ImportError:
        raise WarmerUnavailable("warmer 'uwsgi' only works inside a uWSGI server") from None
    module: ModuleType = uwsgi
    return module


def threads_problem(uwsgi: Any) -> str | None:
    """Why the driver's background threads cannot run in this uWSGI, or ``None`` when they can."""
    if getattr(uwsgi, "has_threads", 1):
        return None
    return (
        "uWSGI runs with Python threads disabled, and cassandra-driver needs its background threads "
        "(event loop, connect, heartbeats): start uWSGI with --enable-threads (or --threads N, or "
        "enable-threads = true in the ini file)"
    )


def _role(uwsgi: Any) -> str:
    """ "worker", "mule", "spooler" or "master" (not forked yet) for the current uWSGI process."""
    if uwsgi.mule_id() > 0:
        return "mule"
    spooler = getattr(uwsgi, "i_am_the_spooler", None)
    if spooler is not None and spooler():
        return "spooler"
    return "worker" if uwsgi.worker_id() > 0 else "master"


def _wanted(role: str, mules: bool, spoolers: bool) -> bool:
    return role == "worker" or (role == "mule" and mules) or (role == "spooler" and spoolers)


def _after_fork() -> None:
    """The post-fork hook: warm every installed holder this process wants, bounded, never raising."""
    try:
        uwsgi = _import_uwsgi()
        role = _role(uwsgi)
        holders = []
        for holder, (mules, spoolers) in list(_installed.items()):
            if _wanted(role, mules, spoolers):
                holders.append(holder)
            else:
                log.debug("pid %d: uWSGI %s, not warming the Cassandra session", os.getpid(), role)
        _warm_when_patched(uwsgi, holders)
    except Exception:  # a post-fork hook that raises would kill the worker: log, let lazy take over
        log.exception("pid %d: warming the Cassandra session after the fork failed", os.getpid())


def _warm_when_patched(uwsgi: Any, holders: list[SessionHolder]) -> None:
    """Warm ``holders`` now, or -- under ``--gevent`` in a worker not monkey-patched yet -- as the first
    greenlet of the worker's gevent loop, which uWSGI starts after ``--gevent-monkey-patch`` patched: a
    Cluster built before would get a real-thread event loop (see :mod:`wsgi_cassandra.reactors`)."""
    if not holders:
        return
    if _gevent_patches_later(uwsgi):
        import gevent

        log.debug("pid %d: uWSGI --gevent, warming once the worker has monkey-patched", os.getpid())
        gevent.spawn(_warm_all, holders)
        return
    _warm_all(holders)


def _warm_all(holders: list[SessionHolder]) -> None:
    try:
        for holder in holders:
            warm_and_report(holder, log)
    except Exception:
        log.exception("pid %d: warming the Cassandra session failed", os.getpid())


def _gevent_patches_later(uwsgi: Any) -> bool:
    from ..reactors import green_patched

    options = getattr(uwsgi, "opt", {}) or {}
    return bool(options.get("gevent")) and green_patched() is None


def _at_exit() -> None:
    for holder in list(_installed):
        try:
            holder.shutdown()
        except Exception:
            log.exception("pid %d: shutting down the Cassandra session failed", os.getpid())


def _chain(first: Callable[[], object] | None, then: Callable[[], None]) -> Callable[[], None]:
    if first is None:
        return then

    def chained() -> None:
        try:
            first()
        finally:
            then()

    return chained


def _register_post_fork(uwsgi: Any) -> str:
    """Register :func:`_after_fork` once; return how."""
    if uwsgi.masterpid() == 0:
        # uwsgidecorators refuses to work without the master; uWSGI still calls post_fork_hook.
        uwsgi.post_fork_hook = _chain(getattr(uwsgi, "post_fork_hook", None), _after_fork)
        return "uwsgi.post_fork_hook (chained; no --master)"
    previous = getattr(uwsgi, "post_fork_hook", None)
    spooler = getattr(uwsgi, "spooler", None)
    first_import = "uwsgidecorators" not in sys.modules
    import uwsgidecorators

    if first_import:
        # Importing uwsgidecorators replaces uwsgi.post_fork_hook and uwsgi.spooler: keep what was there.
        if previous is not None and previous is not uwsgidecorators.postfork_chain_hook:
            uwsgidecorators.postfork_chain.insert(0, previous)
        if spooler is not None:
            uwsgi.spooler = spooler
    uwsgidecorators.postfork(_after_fork)
    return "uwsgidecorators.postfork"


def _register_atexit(uwsgi: Any) -> None:
    uwsgi.atexit = _chain(getattr(uwsgi, "atexit", None), _at_exit)


class UWSGIWarmer:
    """Warm in each uWSGI worker after the fork; see the module docstring."""

    name = "uwsgi"

    def __init__(self, *, mules: bool = False, spoolers: bool = False) -> None:
        self.mules = mules
        self.spoolers = spoolers

    def available(self) -> bool:
        try:
            return threads_problem(_import_uwsgi()) is None
        except WarmerUnavailable:
            return False

    def problem(self) -> str | None:
        """Why this uWSGI cannot run the driver at all (no warmer could help), or ``None``: what
        :func:`~wsgi_cassandra.warmers.auto.choose` and :meth:`install` refuse."""
        try:
            return threads_problem(_import_uwsgi())
        except WarmerUnavailable:
            return None  # not inside uWSGI

    def install(self, holder: SessionHolder) -> None:
        global _hooked_pid
        uwsgi = _import_uwsgi()
        problem = self.problem()
        if problem is not None:
            raise ConfigurationError(problem)
        _installed[holder] = (self.mules, self.spoolers)
        role = _role(uwsgi)
        if _hooked_pid != os.getpid():
            _register_atexit(uwsgi)
            how = "at once (app loaded after the fork)"
            if role == "master":
                how = _register_post_fork(uwsgi)
            _hooked_pid = os.getpid()
            log.debug("uwsgi warmer: pid %d (%s) warms %s", os.getpid(), role, how)
        # --lazy-apps (or the app imported in a mule/spooler): we are already after the fork.
        if role != "master" and _wanted(role, self.mules, self.spoolers):
            _warm_when_patched(uwsgi, [holder])
