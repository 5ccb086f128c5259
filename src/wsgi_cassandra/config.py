"""Settings: keyword arguments and environment variables turned into one validated, immutable object.

An explicit keyword argument beats the environment variable, which beats the default. Every value is
checked while the middleware is being built, and a bad one raises :class:`ConfigurationError` naming the
setting, the value (never a password) and what is accepted::

    >>> settings_from_env({"CASSANDRA_PORT": "9142", "CASSANDRA_KEYSPACE": "shop"})
    {'port': 9142, 'keyspace': 'shop'}
    >>> Settings.resolve({"port": 9043}, {"CASSANDRA_PORT": "9142"}).port
    9043
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from .convert import CONVERTERS
from .errors import ConfigurationError
from .secret import Secret

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ENV_VARS", "Secret", "Settings", "settings_from_env"]


@dataclass(frozen=True)
class Settings:
    """Everything the middleware needs to build a ``Cluster`` and warm it; see the README's table."""

    contact_points: tuple[str, ...] = ("127.0.0.1",)
    port: int = 9042
    keyspace: str | None = None
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    local_dc: str | None = None
    protocol_version: int | None = None
    connect_timeout: float = 5.0
    warmer: str = "auto"
    warm_timeout: float = 10.0
    shutdown_timeout: float = 5.0
    retry_max: float = 30.0
    ssl: bool = False
    ssl_ca: str | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None
    ssl_check_hostname: bool = True
    health_path: str | None = None
    # Fast connect (docs/performance.md): the profile, and the parts it turns on that are also settable alone.
    fast_connect: bool = False
    schema_metadata: str = "full"
    metadata_keyspaces: tuple[str, ...] = ()
    warm_jitter: float = 0.0

    @property
    def uses_tls(self) -> bool:
        return self.ssl or any((self.ssl_ca, self.ssl_cert, self.ssl_key))

    @classmethod
    def resolve(cls, explicit: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
        """Merge defaults, the environment and the explicit arguments (``None`` means "not given")."""
        values = settings_from_env(os.environ if environ is None else environ)
        for name, value in explicit.items():
            if value is None:
                continue
            if name not in CONVERTERS:
                raise ConfigurationError(f"unknown setting {name!r}; accepted: {', '.join(sorted(CONVERTERS))}")
            given = Secret(value) if name == "password" and isinstance(value, str) else value
            values[name] = CONVERTERS[name](given, f"{name}= argument")
        if values.get("fast_connect") and "schema_metadata" not in values:
            values["schema_metadata"] = "background"
        settings = cls(**values)
        settings._check_credentials()
        if settings.ssl_key is not None and settings.ssl_cert is None:
            raise ConfigurationError(
                "CASSANDRA_SSL_KEY is set without CASSANDRA_SSL_CERT: set both for client certificates"
            )
        return settings

    def _check_credentials(self) -> None:
        if self.username is not None and self.password is None:
            raise ConfigurationError(
                "CASSANDRA_USERNAME is set but no password: set CASSANDRA_PASSWORD or "
                "CASSANDRA_PASSWORD_FILE (or the password= argument)"
            )
        if self.password is not None and self.username is None:
            raise ConfigurationError(
                "a password is set but CASSANDRA_USERNAME is not: set CASSANDRA_USERNAME (or username=)"
            )

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


assert set(CONVERTERS) == {f.name for f in fields(Settings)}

# Environment variable -> setting. The README documents each one with its default.
ENV_VARS: dict[str, str] = {
    "CASSANDRA_CONTACT_POINTS": "contact_points",
    "CASSANDRA_PORT": "port",
    "CASSANDRA_KEYSPACE": "keyspace",
    "CASSANDRA_USERNAME": "username",
    "CASSANDRA_LOCAL_DC": "local_dc",
    "CASSANDRA_PROTOCOL_VERSION": "protocol_version",
    "CASSANDRA_CONNECT_TIMEOUT": "connect_timeout",
    "WSGI_CASSANDRA_WARMER": "warmer",
    "WSGI_CASSANDRA_WARM_TIMEOUT": "warm_timeout",
    "WSGI_CASSANDRA_SHUTDOWN_TIMEOUT": "shutdown_timeout",
    "WSGI_CASSANDRA_RETRY_MAX": "retry_max",
    "CASSANDRA_SSL": "ssl",
    "CASSANDRA_SSL_CA": "ssl_ca",
    "CASSANDRA_SSL_CERT": "ssl_cert",
    "CASSANDRA_SSL_KEY": "ssl_key",
    "CASSANDRA_SSL_CHECK_HOSTNAME": "ssl_check_hostname",
    "WSGI_CASSANDRA_HEALTH_PATH": "health_path",
    "WSGI_CASSANDRA_FAST_CONNECT": "fast_connect",
    "WSGI_CASSANDRA_SCHEMA_METADATA": "schema_metadata",
    "WSGI_CASSANDRA_METADATA_KEYSPACES": "metadata_keyspaces",
    "WSGI_CASSANDRA_WARM_JITTER": "warm_jitter",
}


def settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn the ``CASSANDRA_*`` / ``WSGI_CASSANDRA_*`` variables that are set into keyword arguments.

    An empty variable counts as unset, except ``CASSANDRA_CONTACT_POINTS``, where it is a mistake.
    """
    values: dict[str, Any] = {}
    for var, name in ENV_VARS.items():
        raw = environ.get(var)
        if raw is None or (not raw.strip() and var != "CASSANDRA_CONTACT_POINTS"):
            continue
        values[name] = CONVERTERS[name](raw, var)
    password = _password_from_env(environ)
    if password is not None:
        values["password"] = password
    return values


def _password_from_env(environ: Mapping[str, str]) -> Secret | None:
    inline, path = environ.get("CASSANDRA_PASSWORD"), environ.get("CASSANDRA_PASSWORD_FILE")
    if inline and path:
        raise ConfigurationError("both CASSANDRA_PASSWORD and CASSANDRA_PASSWORD_FILE are set; set only one of them")
    if inline:
        return Secret(inline)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            secret = handle.read().rstrip("\r\n")
    except OSError as exc:
        raise ConfigurationError(
            f"CASSANDRA_PASSWORD_FILE = {path!r} cannot be read ({exc.strerror}); "
            "accepted: the path of a readable file holding the password"
        ) from None
    if not secret:
        raise ConfigurationError(f"CASSANDRA_PASSWORD_FILE = {path!r} is empty; accepted: a file holding the password")
    return Secret(secret)
