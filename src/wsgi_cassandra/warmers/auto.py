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

from ..exceptions import ConfigurationError, WarmerUnavailable
from . import get_warmer, is_available

if TYPE_CHECKING:
    from ..holder import SessionHolder

__all__ = ["CANDIDATES", "AutoWarmer", "choose"]

log = logging.getLogger(__name__)

CANDIDATES = ("uwsgi", "gunicorn", "fork")


def choose() -> str | None:
    """The warmer ``auto`` uses in this process, decided here for both :meth:`AutoWarmer.plan` (what
    ``check`` prints) and :meth:`AutoWarmer.install`: the first of :data:`CANDIDATES` that is available,
    ``None`` when only the lazy path is left. A candidate that is *there* but cannot work, such that no
    other warmer could help (``problem()`` says why: uWSGI with Python threads off), raises
    :class:`~wsgi_cassandra.exceptions.ConfigurationError`. Installs nothing."""
    for candidate in CANDIDATES:
        warmer = get_warmer(candidate)
        problem = getattr(warmer, "problem", None)
        reason = problem() if callable(problem) else None
        if reason is not None:
            raise ConfigurationError(reason)
        if is_available(warmer):
            return candidate
    return None


class AutoWarmer:
    """Install the warmer :func:`choose` picks; ``chosen`` says which."""

    name = "auto"

    def __init__(self) -> None:
        self.chosen: list[str] = []

    def available(self) -> bool:
        return True  # the lazy path always works

    def plan(self) -> list[str]:
        """The warmers ``install`` would choose in this process, asked without installing any."""
        chosen = choose()
        return ["lazy"] if chosen is None else [chosen, "lazy"]

    def install(self, holder: SessionHolder) -> None:
        chosen = self.plan()
        if len(chosen) > 1:
            try:
                get_warmer(chosen[0]).install(holder)
            except WarmerUnavailable as exc:  # available() said yes, install() disagrees: lazy still works
                log.debug("auto warmer: skipping %r: %s", chosen[0], exc)
                chosen = ["lazy"]
        self.chosen = chosen
        log.debug("auto warmer: chose %s", " + ".join(chosen))
