"""The ``fork`` warmer: start connecting in the child of every ``os.fork()``.

``os.register_at_fork(after_in_child=...)`` runs in the child of any Python-level fork: Gunicorn's
arbiter, ``multiprocessing`` with the fork start method, Celery's prefork pool, uWSGI with
``--py-call-osafterfork``. The connect starts in a background thread, so the child is not held up; its
first use of the session waits for that attempt (bounded by ``warm_timeout``). The hook is registered once
per process and is inherited by children; in the child it starts every holder this warmer was installed
for (and only those: a holder that asked for ``lazy`` stays lazy). The holder's own fork hook runs first
(it was registered when the first holder was built), so the child starts from fresh state.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import TYPE_CHECKING

from ..exceptions import WarmerUnavailable

if TYPE_CHECKING:
    from ..holder import SessionHolder

log = logging.getLogger(__name__)
_registered = False
_installed: weakref.WeakSet[SessionHolder] = weakref.WeakSet()


def _start_all_in_child() -> None:
    # Never raise here: an exception in an after_in_child hook is only printed, but it would skip the rest.
    for holder in list(_installed):
        try:
            holder.start()
        except Exception:
            log.exception("pid %d: starting the Cassandra connect after fork failed", os.getpid())


class ForkWarmer:
    """Start connecting in the child of every ``os.fork()``; see the module docstring."""

    name = "fork"

    def available(self) -> bool:
        return hasattr(os, "register_at_fork")

    def install(self, holder: SessionHolder) -> None:
        global _registered
        if not hasattr(os, "register_at_fork"):
            raise WarmerUnavailable("warmer 'fork' needs os.register_at_fork (POSIX, Python 3.7+)")
        _installed.add(holder)
        if not _registered:
            os.register_at_fork(after_in_child=_start_all_in_child)
            _registered = True
            log.debug("fork warmer: registered os.register_at_fork(after_in_child=...)")
