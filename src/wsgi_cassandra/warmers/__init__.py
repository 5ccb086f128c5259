"""Warmers decide *when* a worker builds its session: a tiny strategy interface and a registry of names.

Every warmer only makes the holder connect earlier; the holder's pid guard and its lazy path stay the
safety net under all of them. Built-in names (``WSGI_CASSANDRA_WARMER`` or ``warmer=``):

- ``auto`` (default): pick from where the code runs -- uWSGI, Gunicorn, otherwise ``fork`` + ``lazy``.
- ``lazy``: connect on the first request that needs the session, once per process, thread-safely.
- ``eager``: connect when the middleware is built (app loaded in the worker: uWSGI ``--lazy-apps``,
  threaded servers such as waitress or ``wsgiref``).
- ``fork``: ``os.register_at_fork``: connect in the child of every ``os.fork()``.
- ``uwsgi``: uWSGI's ``@postfork`` hook, chained; shuts down with the worker.
- ``gunicorn``: Gunicorn's ``post_fork`` / ``post_worker_init`` / ``worker_exit`` hooks.

A warmer named explicitly that cannot work in this process raises :class:`WarmerUnavailable`; ``auto``
skips it and logs at debug level. Third-party warmers: ``register("name", "package.module:Class")``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from ..holder import SessionHolder

__all__ = ["Warmer", "get_warmer", "is_available", "names", "register"]


@runtime_checkable
class Warmer(Protocol):
    """Arrange for ``holder`` to be warmed at the right moment in each worker process.

    ``install`` runs once, when the middleware is built (in the master of a pre-fork server when the app
    is preloaded). It must not connect in a process that is going to fork; it raises
    :class:`~wsgi_cassandra.exceptions.WarmerUnavailable` if it cannot work here.

    Optionally, ``available() -> bool`` says whether it would work in this process *without* installing
    anything (no hooks, no global state): what ``python -m wsgi_cassandra check`` asks, through
    :func:`is_available`. Every built-in warmer has it; a warmer without it is assumed to work. A warmer
    may also have ``problem() -> str | None``: why the server it belongs to cannot run the driver at all
    (uWSGI with threads off), which makes ``auto`` raise instead of skipping it.
    """

    name: str

    def install(self, holder: SessionHolder) -> None: ...


def is_available(warmer: Warmer) -> bool:
    """Whether ``warmer`` would work in this process, asked without installing it (see :class:`Warmer`)."""
    available = getattr(warmer, "available", None)
    return bool(available()) if callable(available) else True


# name -> "module:attribute", imported only when chosen, so that uwsgi/gunicorn are never imported needlessly.
_REGISTRY: dict[str, str] = {
    "auto": "wsgi_cassandra.warmers.auto:AutoWarmer",
    "lazy": "wsgi_cassandra.warmers.lazy:LazyWarmer",
    "eager": "wsgi_cassandra.warmers.lazy:EagerWarmer",
    "fork": "wsgi_cassandra.warmers.fork:ForkWarmer",
    "uwsgi": "wsgi_cassandra.warmers.uwsgi:UWSGIWarmer",
    "gunicorn": "wsgi_cassandra.warmers.gunicorn_warmer:GunicornWarmer",
}


def register(name: str, target: str) -> None:
    """Make a warmer class available by name; ``target`` is ``"package.module:ClassName"``."""
    _REGISTRY[name.lower()] = target


def names() -> list[str]:
    return sorted(_REGISTRY)


def get_warmer(spec: str | Warmer) -> Warmer:
    """The warmer object for a name (case-insensitive) or the object itself."""
    if not isinstance(spec, str):
        if not isinstance(spec, Warmer):
            raise ConfigurationError(
                f"warmer= {spec!r} is not a warmer; accepted: a name ({', '.join(names())}) "
                "or an object with a name and an install(holder) method"
            )
        return spec
    target = _REGISTRY.get(spec.strip().lower())
    if target is None:
        raise ConfigurationError.not_one_of("warmer", spec, names())
    module_name, _, attribute = target.partition(":")
    warmer_class = getattr(importlib.import_module(module_name), attribute)
    warmer: Warmer = warmer_class()
    return warmer
