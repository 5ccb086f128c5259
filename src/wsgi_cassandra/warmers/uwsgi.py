"""The ``uwsgi`` warmer (placeholder until the uWSGI warmer lands): unusable outside uWSGI."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..errors import WarmerUnavailable

if TYPE_CHECKING:
    from ..holder import SessionHolder


class UWSGIWarmer:
    name = "uwsgi"

    def install(self, holder: SessionHolder) -> None:
        if "uwsgi" not in sys.modules:
            raise WarmerUnavailable("warmer 'uwsgi' only works inside a uWSGI server")
        raise WarmerUnavailable("warmer 'uwsgi' is not implemented yet")
