"""TLS for the driver: an ``ssl.SSLContext`` built (and so validated) while the middleware is built.

Hostname checking is on by default: the driver then passes each node's address as ``server_hostname``,
so node certificates must name the address clients use (DNS name or IP). Settings: ``CASSANDRA_SSL``
(TLS with the system's CA store), ``CASSANDRA_SSL_CA`` (a PEM bundle to trust instead),
``CASSANDRA_SSL_CERT`` / ``CASSANDRA_SSL_KEY`` (a client certificate), ``CASSANDRA_SSL_CHECK_HOSTNAME``.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .config import Settings

__all__ = ["ssl_context"]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The context for ``Cluster(ssl_context=...)``, or ``None`` without TLS; bad files raise here."""
    if not settings.uses_tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = settings.ssl_check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    if settings.ssl_ca is not None:
        try:
            context.load_verify_locations(cafile=settings.ssl_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"CASSANDRA_SSL_CA = {settings.ssl_ca!r} cannot be loaded ({_reason(exc)}); "
                "accepted: a PEM file of CA certificates"
            ) from None
    if settings.ssl_cert is not None:
        try:
            context.load_cert_chain(settings.ssl_cert, settings.ssl_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"CASSANDRA_SSL_CERT = {settings.ssl_cert!r} / CASSANDRA_SSL_KEY = {settings.ssl_key!r} cannot be "
                f"loaded ({_reason(exc)}); accepted: a PEM certificate and its unencrypted PEM private key"
            ) from None
    return context


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
