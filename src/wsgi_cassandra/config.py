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

import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Callable

from .errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ENV_VARS", "Secret", "Settings", "settings_from_env"]


class Secret:
    """A string that never shows itself in ``repr``, ``str``, logs or tracebacks; ``reveal()`` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


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
            if name not in _CONVERTERS:
                raise ConfigurationError(f"unknown setting {name!r}; accepted: {', '.join(sorted(_CONVERTERS))}")
            given = Secret(value) if name == "password" and isinstance(value, str) else value
            values[name] = _CONVERTERS[name](given, f"{name}= argument")
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


# --- converters: take a string (from the environment) or a typed value (from a keyword argument) ---------


def _bad(source: str, value: object, accepted: str) -> ConfigurationError:
    return ConfigurationError(f"{source} = {_masked(value)!r} is not valid; accepted: {accepted}")


def _masked(value: object) -> object:
    """Hide URL-style credentials (``user:password@host``) pasted into a setting before echoing it."""
    return re.sub(r"[^\s,/@]+@", "***@", value) if isinstance(value, str) and "@" in value else value


def _contact_points(value: object, source: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise _bad(source, value, "a comma-separated string or a list of 'host' / 'host:port'")
    points = tuple(str(item).strip() for item in items)
    if not points or any(not p for p in points):
        raise _bad(
            source,
            value,
            "non-empty 'host' or 'host:port' entries, comma-separated, e.g. '10.0.0.1,10.0.0.2:9142'",
        )
    for point in points:
        split_host_port(point, source)
    return points


def split_host_port(point: str, source: str = "CASSANDRA_CONTACT_POINTS") -> tuple[str, int | None]:
    """``"h"`` -> ``("h", None)``; ``"h:9142"`` -> ``("h", 9142)``; ``"[::1]:9142"`` -> ``("::1", 9142)``."""
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\w+))?|([^:\s\[\]]+)(?::(\w+))?|([0-9a-fA-F:]+)", point)
    if match is None:
        raise _bad(source, point, "'host', 'host:port' or '[ipv6]:port'")
    host = match.group(1) or match.group(3) or match.group(5)
    raw_port = match.group(2) or match.group(4)
    return host, (None if raw_port is None else _port(raw_port, f"{source} (port of {point!r})"))


def _port(value: object, source: str) -> int:
    try:
        port = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise _bad(source, value, "a whole number from 1 to 65535")
    return port


def _keyspace(value: object, source: str) -> str:
    name = str(value).strip()
    if not re.fullmatch(r"\w{1,48}", name, flags=re.ASCII):
        raise _bad(source, value, "a keyspace name of 1 to 48 letters, digits or underscores")
    return name


def _text(value: object, source: str) -> str:
    text = str(value).strip()
    if not text:
        raise _bad(source, value, "a non-empty string")
    return text


def _secret(value: object, source: str) -> Secret:
    if isinstance(value, Secret):
        if not value.reveal():
            raise ConfigurationError(f"{source} is empty; accepted: a non-empty password")
        return value
    raise ConfigurationError(f"{source} must be a string or a Secret (its value is not shown)")


def _protocol_version(value: object, source: str) -> int:
    from cassandra import ProtocolVersion  # light: the package root, not cassandra.cluster

    supported = sorted(ProtocolVersion.SUPPORTED_VERSIONS)
    try:
        version = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        version = -1
    if version not in supported:
        raise _bad(source, value, f"one of the versions this cassandra-driver knows: {supported}")
    return version


def _seconds(value: object, source: str) -> float:
    try:
        seconds = float(str(value).strip()) if not isinstance(value, bool) else -1.0
    except ValueError:
        seconds = -1.0
    if not (seconds > 0 and math.isfinite(seconds)):
        raise _bad(source, value, "a positive number of seconds, e.g. 5 or 0.5")
    return seconds


def _warmer(value: object, source: str) -> str:
    return _text(value, source).lower()


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE + _FALSE:
        raise _bad(source, value, f"a yes/no flag: {'/'.join(_TRUE)} or {'/'.join(_FALSE)}")
    return text in _TRUE


def _file(value: object, source: str) -> str:
    path = os.path.expanduser(str(value).strip())
    if not os.path.isfile(path):
        raise ConfigurationError(
            f"{source} = {str(value)!r} does not exist or is not a file; accepted: the path of a PEM file"
        )
    return path


def _url_path(value: object, source: str) -> str:
    path = str(value).strip()
    if not re.fullmatch(r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*", path):
        raise _bad(source, value, "a URL path starting with '/', e.g. '/healthz'")
    return path


SCHEMA_METADATA = ("full", "keyspaces", "background", "none")


def _schema_metadata(value: object, source: str) -> str:
    mode = str(value).strip().lower()
    if mode not in SCHEMA_METADATA:
        raise _bad(source, value, ", ".join(SCHEMA_METADATA))
    return mode


def _keyspaces(value: object, source: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise _bad(source, value, "a comma-separated string or a list of keyspace names")
    return tuple(_keyspace(item, source) for item in items if str(item).strip())


def _jitter(value: object, source: str) -> float:
    try:
        seconds = float(str(value).strip()) if not isinstance(value, bool) else -1.0
    except ValueError:
        seconds = -1.0
    if not (0 <= seconds <= 60):
        raise _bad(source, value, "a number of seconds from 0 to 60, e.g. 0.5")
    return seconds


_CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    "contact_points": _contact_points,
    "port": _port,
    "keyspace": _keyspace,
    "username": _text,
    "password": _secret,
    "local_dc": _text,
    "protocol_version": _protocol_version,
    "connect_timeout": _seconds,
    "warmer": _warmer,
    "warm_timeout": _seconds,
    "shutdown_timeout": _seconds,
    "retry_max": _seconds,
    "ssl": _flag,
    "ssl_ca": _file,
    "ssl_cert": _file,
    "ssl_key": _file,
    "ssl_check_hostname": _flag,
    "health_path": _url_path,
    "fast_connect": _flag,
    "schema_metadata": _schema_metadata,
    "metadata_keyspaces": _keyspaces,
    "warm_jitter": _jitter,
}
assert set(_CONVERTERS) == {f.name for f in fields(Settings)}

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
        values[name] = _CONVERTERS[name](raw, var)
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
