"""The exceptions wsgi-cassandra raises: one base class, one subclass per kind of failure.

Catch :class:`WsgiCassandraError` to handle everything this library raises. Messages name the setting or
the cause and never contain a password.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ConfigurationError",
    "SessionUnavailable",
    "WarmerUnavailable",
    "WsgiCassandraError",
]


class WsgiCassandraError(Exception):
    """Base class of every exception raised by wsgi-cassandra."""


class ConfigurationError(WsgiCassandraError, ValueError):
    """A setting (keyword argument or environment variable) has a value that cannot work.

    Raised while the middleware is being built, never at the first request, and the message names the
    setting, the bad value (unless it is a secret) and what is accepted.
    """

    @classmethod
    def not_one_of(cls, source: str, value: object, accepted: Iterable[str]) -> ConfigurationError:
        """``source = value`` is none of ``accepted``; a near miss gets "did you mean ...?"."""
        accepted = list(accepted)
        lowered = {name.lower(): name for name in accepted}  # matched in any case, suggested as spelled
        close = difflib.get_close_matches(str(value).strip().lower(), list(lowered), n=1)
        hint = f"; did you mean {lowered[close[0]]!r}?" if close else ""
        return cls(f"{source} = {masked(value)!r} is not valid; accepted: {', '.join(accepted)}{hint}")


def masked(value: object) -> object:
    """Hide URL-style credentials (``user:password@host``) pasted into a setting before an error echoes it."""
    return re.sub(r"[^\s,/@]+@", "***@", value) if isinstance(value, str) and "@" in value else value


class WarmerUnavailable(ConfigurationError):
    """A warmer was asked for by name but cannot work in this process (e.g. ``uwsgi`` outside uWSGI)."""


class SessionUnavailable(WsgiCassandraError):
    """The worker has no usable Cassandra session right now (still connecting, or Cassandra unreachable).

    Raised when an application touches ``environ['cassandra.session']`` while the session is not ready.
    The middleware turns it into a ``503 Service Unavailable`` with ``Retry-After`` unless configured to
    let the application handle it. ``retry_after`` is a hint, in whole seconds.
    """

    def __init__(self, reason: str, *, retry_after: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
