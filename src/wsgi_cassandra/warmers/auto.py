"""The ``auto`` warmer (default): choose the right warmer for the process the code runs in.

Tried in order, the first that can work wins:

- ``uwsgi`` when running inside uWSGI (the ``uwsgi`` module imports): its post-fork hook, or at once
  under ``--lazy-apps``. uWSGI forks in C, so the ``fork`` warmer would never fire there;
- ``gunicorn`` when a Gunicorn worker or arbiter is loading the app: at once in a worker, Gunicorn's
  hooks chained on the arbiter with ``--preload``;
- ``fork`` otherwise (``os.register_at_fork``: multiprocessing, Celery prefork, any ``os.fork()``).

The lazy path stays underneath all of them. A candidate that cannot work here is skipped with a debug
log line, never an error -- except a configuration in which *no* warmer could work (uWSGI with Python
threads disabled), which raises :class:`~wsgi_cassandra.exceptions.ConfigurationError` saying what to do.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..exceptions import WarmerUnavailable
from . import get_warmer, is_available

if TYPE_CHECKING:
    from ..holder import SessionHolder

log = logging.getLogger(__name__)

CANDIDATES = ("uwsgi", "gunicorn", "fork")


class AutoWarmer:
    """Install the first warmer of :data:`CANDIDATES` that works here; ``chosen`` says which."""

    name = "auto"

    def __init__(self) -> None:
        self.chosen: list[str] = []

    def available(self) -> bool:
        return True  # the lazy path always works

    def plan(self) -> list[str]:
        """The warmers ``install`` would choose in this process, asked without installing any."""
        chosen = []
        for candidate in CANDIDATES:
            if is_available(get_warmer(candidate)):
                chosen.append(candidate)
                break
        return [*chosen, "lazy"]

    def install(self, holder: SessionHolder) -> None:
        chosen: list[str] = []
        for candidate in CANDIDATES:
            try:
                get_warmer(candidate).install(holder)
            except WarmerUnavailable as exc:
                log.debug("auto warmer: skipping %r: %s", candidate, exc)
                continue
            chosen.append(candidate)
            break
        chosen.append("lazy")
        self.chosen = chosen
        log.debug("auto warmer: chose %s", " + ".join(chosen))
