"""The ``auto`` warmer (default): choose the right warmer for the process the code runs in.

Tried in order: ``uwsgi`` (running inside uWSGI), ``gunicorn`` (running inside a Gunicorn arbiter or
worker), then ``fork`` (any ``os.fork``), with the lazy path always underneath. A candidate that cannot
work here is skipped with a debug log line, never an error.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import WarmerUnavailable
from . import get_warmer

if TYPE_CHECKING:
    from ..holder import SessionHolder

log = logging.getLogger(__name__)

CANDIDATES = ("uwsgi", "gunicorn", "fork")


class AutoWarmer:
    name = "auto"

    def __init__(self) -> None:
        self.chosen: list[str] = []

    def install(self, holder: SessionHolder) -> None:
        for candidate in CANDIDATES:
            try:
                get_warmer(candidate).install(holder)
            except WarmerUnavailable as exc:
                log.debug("auto warmer: skipping %r: %s", candidate, exc)
                continue
            self.chosen.append(candidate)
            if candidate != "fork":
                break
        self.chosen.append("lazy")
        log.debug("auto warmer: chose %s", " + ".join(self.chosen))
