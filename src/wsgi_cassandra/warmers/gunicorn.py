"""The ``gunicorn`` warmer (placeholder until the Gunicorn warmer lands): unusable outside Gunicorn."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..errors import WarmerUnavailable

if TYPE_CHECKING:
    from ..holder import SessionHolder


class GunicornWarmer:
    name = "gunicorn"

    def install(self, holder: SessionHolder) -> None:
        if "gunicorn" not in sys.modules:
            raise WarmerUnavailable("warmer 'gunicorn' only works inside a Gunicorn server")
        raise WarmerUnavailable("warmer 'gunicorn' is not implemented yet")
