"""The ``lazy`` and ``eager`` warmers: the two that need no server hook.

``lazy`` does nothing at install: the middleware connects on the first request that finds no session
(once per process, one connect for any number of concurrent threads). It is the safety net under every
other warmer and the right choice for threaded servers where nothing forks.

``eager`` warms while the middleware is being built, bounded by ``warm_timeout``. Use it where the app is
loaded *in the worker*, after any fork (uWSGI ``--lazy-apps``, Gunicorn without ``--preload``, waitress),
so the first request does not pay for the connect. Never in a process that will fork afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..holder import SessionHolder


class LazyWarmer:
    name = "lazy"

    def available(self) -> bool:
        return True

    def install(self, holder: SessionHolder) -> None:
        """Nothing to arrange: the first request connects."""


class EagerWarmer:
    name = "eager"

    def available(self) -> bool:
        return True

    def install(self, holder: SessionHolder) -> None:
        holder.connect()
