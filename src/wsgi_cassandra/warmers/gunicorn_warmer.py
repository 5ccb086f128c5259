"""The ``gunicorn`` warmer: each Gunicorn worker builds its session after the fork, before it accepts.

It works whether or not the hooks of :mod:`wsgi_cassandra.gunicorn` are configured, by finding where
the app is being loaded:

- in a worker (the default, no ``--preload``): the fork already happened, so it warms at once, bounded
  by ``warm_timeout``, while Gunicorn is still loading the app (before the worker accepts), and chains
  ``worker_exit`` on that worker's configuration for a bounded shutdown;
- in the arbiter (``--preload``): it must not connect there; it chains our ``post_fork``,
  ``post_worker_init`` and ``worker_exit`` hooks onto the arbiter's configuration, after any hook of
  yours (never replacing it), so every worker forked from now on warms itself. If the arbiter cannot
  be found it falls back to ``os.register_at_fork`` (the ``fork`` warmer).

Hooks already configured (``-c python:wsgi_cassandra.gunicorn`` or imported into ``gunicorn.conf.py``)
are detected and not added twice. gevent and eventlet workers need the driver's matching connection
class (``cassandra.io.geventreactor.GeventConnection`` / ``eventletreactor.EventletConnection``); the
driver picks it by itself when ``cassandra.cluster`` is first imported after monkey-patching, and the
warmer refuses to start with a :class:`~wsgi_cassandra.exceptions.ConfigurationError` when it was imported
too early (for example by a preloaded app).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError, WarmerUnavailable

if TYPE_CHECKING:
    from types import FrameType

    from ..holder import SessionHolder

__all__ = ["GunicornWarmer", "find_gunicorn"]

log = logging.getLogger(__name__)

# Worker class name fragment -> (module, class) of the driver connection it needs.
GREEN_CONNECTIONS = {
    "gevent": ("cassandra.io.geventreactor", "GeventConnection"),
    "eventlet": ("cassandra.io.eventletreactor", "EventletConnection"),
}


def find_gunicorn() -> tuple[str, Any] | None:
    """``("worker", worker)`` or ``("arbiter", arbiter)`` loading the app up the call stack, or ``None``.

    Gunicorn offers no API that says "you are being loaded by a worker": the objects doing the loading
    are on the stack (``Worker.load_wsgi`` in a worker, ``Arbiter.setup`` with ``--preload``).
    """
    if "gunicorn" not in sys.modules:
        return None
    try:
        from gunicorn.arbiter import Arbiter
        from gunicorn.workers.base import Worker
    except ImportError:
        return None
    frame: FrameType | None = sys._getframe(1)
    for _ in range(200):  # the app is loaded a few dozen frames below Gunicorn at most
        if frame is None:
            break
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Worker):
            return "worker", candidate
        if isinstance(candidate, Arbiter):
            return "arbiter", candidate
        frame = frame.f_back
    return None


def _check_green_workers(cfg: Any, *, in_worker: bool) -> None:
    worker_class = str(getattr(cfg, "worker_class_str", "") or "").lower()
    for green, (module, name) in GREEN_CONNECTIONS.items():
        if green not in worker_class:
            continue
        advice = (
            f"Gunicorn {green} workers need the driver's {module}.{name}: do not import cassandra.cluster "
            f"before the worker monkey-patches (drop --preload, or import it lazily), or pass "
            f"cluster_factory=lambda: Cluster(..., connection_class={name})"
        )
        if not in_worker:
            if "cassandra.cluster" in sys.modules:
                raise ConfigurationError(advice)
            return
        from cassandra import cluster

        if cluster.DefaultConnection.__name__ != name:
            raise ConfigurationError(f"{advice} (it chose {cluster.DefaultConnection.__name__})")


def _add_hooks(cfg: Any, names: tuple[str, ...]) -> list[str]:
    """Compose our hooks after the configured ones (never replacing them); return the names added."""
    from .. import gunicorn as hooks

    added = []
    for name in names:
        current = cfg.settings[name].get()
        if hooks.is_ours(current):
            continue
        cfg.set(name, hooks.compose(current, hooks.OURS[name]))
        added.append(name)
    return added


class GunicornWarmer:
    """Warm in each Gunicorn worker; see the module docstring."""

    name = "gunicorn"

    def __init__(self) -> None:
        self.mode: str | None = None

    def available(self) -> bool:
        return find_gunicorn() is not None

    def install(self, holder: SessionHolder) -> None:
        found = find_gunicorn()
        if found is None:
            raise WarmerUnavailable("warmer 'gunicorn' only works while a Gunicorn arbiter or worker loads the app")
        where, owner = found
        cfg = owner.cfg
        _check_green_workers(cfg, in_worker=where == "worker")
        if where == "worker":
            self.mode = "worker"
            added = _add_hooks(cfg, ("worker_exit",))
            log.debug("gunicorn warmer: pid %d, app loaded in the worker; warming now", os.getpid())
            if added:
                log.debug("gunicorn warmer: chained %s", ", ".join(added))
            if not holder.warm():
                log.warning(
                    "pid %d: Cassandra session not ready within %.1f s; the worker serves anyway (503 "
                    "until ready) and keeps retrying in the background",
                    os.getpid(),
                    holder.warm_timeout,
                )
            return
        self.mode = "arbiter"
        try:
            added = _add_hooks(cfg, ("post_fork", "post_worker_init", "worker_exit"))
        except Exception as exc:  # an unexpected Gunicorn: the fork hook still warms every worker
            log.debug("gunicorn warmer: cannot chain hooks (%s); using os.register_at_fork", exc)
            from .fork import ForkWarmer

            ForkWarmer().install(holder)
            self.mode = "arbiter+fork"
            return
        log.debug(
            "gunicorn warmer: app preloaded in the arbiter (pid %d); hooks %s",
            os.getpid(),
            ", ".join(added) if added else "already configured",
        )
