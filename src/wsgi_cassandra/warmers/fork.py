"""The ``fork`` warmer: start connecting in the child of every ``os.fork()``.

``os.register_at_fork(after_in_child=...)`` runs in the child of any Python-level fork: Gunicorn's
arbiter, ``multiprocessing`` with the fork start method, Celery's prefork pool, uWSGI with
``--py-call-osafterfork``. The connect starts in a background thread, so the child is not held up; its
first use of the session waits for that attempt (bounded by ``warm_timeout``). The hook is registered once
per process and is inherited by children, and it warms every holder alive in the child.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ..errors import WarmerUnavailable
from ..holder import all_holders

if TYPE_CHECKING:
    from ..holder import SessionHolder

log = logging.getLogger(__name__)
_registered = False


def _start_all_in_child() -> None:
    for holder in all_holders():
        holder.start()


class ForkWarmer:
    name = "fork"

    def install(self, holder: SessionHolder) -> None:
        global _registered
        if not hasattr(os, "register_at_fork"):
            raise WarmerUnavailable("warmer 'fork' needs os.register_at_fork (POSIX, Python 3.7+)")
        if not _registered:
            os.register_at_fork(after_in_child=_start_all_in_child)
            _registered = True
            log.debug("fork warmer: registered os.register_at_fork(after_in_child=...)")
