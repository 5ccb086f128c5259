"""Which driver connection class (event loop) a worker's Cluster uses, chosen when the Cluster is built.

``cassandra-driver`` picks its ``DefaultConnection`` once, when ``cassandra.cluster`` is first imported:
gevent or eventlet if the socket module is monkey-patched by then, else libev, else asyncore. Two things
go wrong with that in web servers:

- Gunicorn's gevent worker (and uWSGI ``--gevent``) patch *in the worker*, after the fork; a driver
  imported earlier (``--preload``, a config file, another library) keeps a libev/asyncore default that
  cannot run under gevent's hub. So the class is chosen here, from what *this* process looks like when
  its Cluster is built (after patching), not from what it looked like at import;
- on Python 3.12+ there is no ``asyncore``: without the driver's libev C extension, ``import
  cassandra.cluster`` fails outright (the driver finds no default), although the asyncio reactor works.

The order (:func:`connection_class`):

1. ``GeventConnection`` when ``socket`` is gevent-patched, ``EventletConnection`` when eventlet-patched
   (anything else would block the hub); a driver that no longer ships that reactor (removed in
   cassandra-driver 3.31, also gone from recent scylla-driver) is a :class:`ConfigurationError` naming
   the fix;
2. ``LibevConnection`` when the C extension is there (the driver's fastest);
3. ``AsyncoreConnection`` when ``asyncore`` imports (Python < 3.12, or the ``pyasyncore`` package);
4. ``AsyncioConnection`` (``cassandra.io.asyncioreactor``), which needs nothing more.

libev and asyncore come before asyncio because the driver documents those two as its production event
loops and asyncio as experimental; asyncio is the fallback that keeps a worker working at all.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "GREEN_REACTORS",
    "connection_class",
    "driver_version",
    "green_connection_class",
    "green_patched",
    "import_cluster_module",
    "missing_reactor",
    "rebind_driver_threading",
]

# green library -> (module, class) of the driver reactor it needs
GREEN_REACTORS = {
    "gevent": ("cassandra.io.geventreactor", "GeventConnection"),
    "eventlet": ("cassandra.io.eventletreactor", "EventletConnection"),
}
# the fallback order when nothing is monkey-patched
EVENT_LOOPS = (
    ("cassandra.io.libevreactor", "LibevConnection"),
    ("cassandra.io.asyncorereactor", "AsyncoreConnection"),
    ("cassandra.io.asyncioreactor", "AsyncioConnection"),
)


def green_patched() -> str | None:
    """``"gevent"`` or ``"eventlet"`` when this process's ``socket`` module is monkey-patched by it.

    Imports neither library unless it was already imported (nobody patched with what is not loaded).
    """
    import socket

    if "gevent.monkey" in sys.modules:
        import gevent.socket

        if socket.socket is gevent.socket.socket:
            return "gevent"
    if "eventlet.patcher" in sys.modules:
        import eventlet.patcher

        try:
            if eventlet.patcher.is_monkey_patched("socket"):
                return "eventlet"
        except AttributeError:  # some eventlet/Python combinations (the driver guards this too)
            return None
    return None


def connection_class() -> type[Any]:
    """The driver connection class for a Cluster built now in this process; see the module docstring."""
    green = green_patched()
    if green is not None:
        green_class = green_connection_class(green)
        rebind_driver_threading(green)
        return green_class
    problems = []
    for module, name in EVENT_LOOPS:
        try:
            found: type[Any] = getattr(importlib.import_module(module), name)
        except Exception as exc:  # ImportError, or the driver's DependencyException (no libev, no asyncore)
            problems.append(f"{module}: {exc}")
            continue
        return found
    raise ConfigurationError(
        "cassandra-driver has no usable event loop here (" + "; ".join(problems) + "): reinstall cassandra-driver"
    )


def green_connection_class(green: str) -> type[Any]:
    """The reactor class for ``green`` ("gevent" or "eventlet"), or a :class:`ConfigurationError` saying what
    to do when the installed driver no longer ships it (or it cannot work)."""
    module, name = GREEN_REACTORS[green]
    if importlib.util.find_spec(module) is None:
        raise ConfigurationError(missing_reactor(green))
    if green == "eventlet":
        _check_futurist()
    found: type[Any] = getattr(importlib.import_module(module), name)
    return found


_THREADING_NAMES = ("Condition", "Event", "Lock", "RLock", "Semaphore", "Thread", "Timer")


def rebind_driver_threading(green: str) -> int:
    """Point the driver's ``from threading import Event, Lock, ...`` names at the patched ones; return how
    many were re-bound.

    A driver imported before the process was monkey-patched (Gunicorn ``--preload``, a config file that
    imports it) keeps the real ``threading`` classes it imported by name: its connect would then block the
    whole gevent hub on a real ``Event.wait`` until the connect timeout. Only names still bound to the
    unpatched originals are replaced; idempotent, and a no-op when the driver was imported after patching.
    """
    import threading

    originals = _unpatched_threading(green)
    count = 0
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "cassandra" or module_name.startswith("cassandra.")):
            continue
        for name, original in originals.items():
            if getattr(module, name, None) is original and getattr(threading, name) is not original:
                setattr(module, name, getattr(threading, name))
                count += 1
    return count


def _unpatched_threading(green: str) -> dict[str, Any]:
    if green == "gevent":
        from gevent import monkey

        return {name: monkey.get_original("threading", name) for name in _THREADING_NAMES}
    import eventlet.patcher

    original = eventlet.patcher.original("threading")
    return {name: getattr(original, name) for name in _THREADING_NAMES if hasattr(original, name)}


def missing_reactor(green: str) -> str:
    """What to do when this process runs under ``green`` but the driver has no reactor for it."""
    module, name = GREEN_REACTORS[green]
    return (
        f"this process is monkey-patched by {green}, and the installed {driver_version()} does not ship "
        f"{module}.{name} (the gevent and eventlet reactors were deprecated in cassandra-driver 3.30 and "
        f"removed in 3.31): pin 'cassandra-driver<3.31', or run threads instead of {green} "
        "(Gunicorn -k gthread --threads N, uWSGI --threads N)"
    )


def _check_futurist() -> None:
    """cassandra-driver 3.25-3.29 refuse eventlet on Python 3.7+ without ``futurist`` (its thread pool would
    hang under eventlet); say so now, not as an ImportError from deep inside ``Cluster()``."""
    needs = hasattr(import_cluster_module().Cluster, "_create_thread_pool_executor")  # 3.25-3.29 only
    if needs and importlib.util.find_spec("futurist") is None:
        raise ConfigurationError(
            f"{driver_version()} needs the 'futurist' package to run under eventlet on Python 3.7+ "
            "(its thread pool hangs otherwise): pip install futurist (or wsgi-cassandra[eventlet])"
        )


def driver_version() -> str:
    """``"cassandra-driver 3.30.1"`` or ``"scylla-driver 3.29.12"``: which distribution ships ``cassandra``."""
    from importlib import metadata

    for dist in ("scylla-driver", "cassandra-driver"):
        try:
            return f"{dist} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    import cassandra

    return f"cassandra-driver {getattr(cassandra, '__version__', '?')}"


def import_cluster_module() -> Any:
    """``cassandra.cluster``, imported even where the driver cannot choose a default event loop itself.

    On Python 3.12+ without libev and without ``asyncore`` the driver's module raises at import (it
    tries gevent, eventlet, libev, asyncore, and nothing else). Then, and only then, its asyncore slot
    is filled with the asyncio reactor for the duration of that one import, so that the module loads
    with ``DefaultConnection = AsyncioConnection``; every Cluster we build names its class explicitly
    anyway (:func:`connection_class`).
    """
    module = sys.modules.get("cassandra.cluster")
    if module is not None:
        return module
    from cassandra import DependencyException

    try:
        return importlib.import_module("cassandra.cluster")
    except DependencyException:
        with _asyncio_in_asyncore_slot():
            return importlib.import_module("cassandra.cluster")


@contextlib.contextmanager
def _asyncio_in_asyncore_slot() -> Iterator[None]:
    from cassandra.io.asyncioreactor import AsyncioConnection

    name = "cassandra.io.asyncorereactor"
    stand_in = types.ModuleType(name, "cassandra.io.asyncioreactor standing in while cassandra.cluster loads")
    stand_in.AsyncoreConnection = AsyncioConnection  # type: ignore[attr-defined]
    previous = sys.modules.get(name)
    sys.modules[name] = stand_in
    try:
        yield
    finally:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
