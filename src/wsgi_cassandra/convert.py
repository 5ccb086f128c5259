"""Setting converters: a string from the environment or a typed keyword argument in, a checked value out.

One function per kind of value, each raising :class:`ConfigurationError` that names the setting (the
variable or the ``name=`` argument), the value (URL-style credentials masked, never a password) and
what is accepted. The settings table (:mod:`wsgi_cassandra.config`) names the converter of each setting::

    >>> port("9142", "port= argument")
    9142
    >>> seconds(0.5, "connect_timeout= argument")
    0.5
    >>> choice(("auto", "gunicorn"))("Gunicorn", "WSGI_CASSANDRA_WARMER")
    'gunicorn'
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Callable

from .exceptions import ConfigurationError, masked
from .secret import Secret

__all__ = [
    "callback",
    "choice",
    "consistency",
    "contact_points",
    "execution_profiles",
    "flag",
    "jitter",
    "keyspace",
    "keyspaces",
    "pem_file",
    "port",
    "protocol_version",
    "seconds",
    "secret",
    "serial_consistency",
    "split_host_port",
    "text",
    "url_path",
    "warmer",
]


def _bad(source: str, value: object, accepted: str) -> ConfigurationError:
    return ConfigurationError(f"{source} = {masked(value)!r} is not valid; accepted: {accepted}")


def contact_points(value: object, source: str) -> tuple[str, ...]:
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
    return host, (None if raw_port is None else port(raw_port, f"{source} (port of {point!r})"))


def port(value: object, source: str) -> int:
    try:
        port = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise _bad(source, value, "a whole number from 1 to 65535")
    return port


def keyspace(value: object, source: str) -> str:
    name = str(value).strip()
    if not re.fullmatch(r"\w{1,48}", name, flags=re.ASCII):
        raise _bad(source, value, "a keyspace name of 1 to 48 letters, digits or underscores")
    return name


def text(value: object, source: str) -> str:
    text = str(value).strip()
    if not text:
        raise _bad(source, value, "a non-empty string")
    return text


def secret(value: object, source: str) -> Secret:
    if isinstance(value, str):
        value = Secret(value)
    if isinstance(value, Secret):
        if not value.reveal():
            raise ConfigurationError(f"{source} is empty; accepted: a non-empty password")
        return value
    raise ConfigurationError(f"{source} must be a string or a Secret (its value is not shown)")


def protocol_version(value: object, source: str) -> int:
    from cassandra import ProtocolVersion  # light: the package root, not cassandra.cluster

    supported = sorted(ProtocolVersion.SUPPORTED_VERSIONS)
    try:
        version = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        version = -1
    if version not in supported:
        raise _bad(source, value, f"one of the versions this cassandra-driver knows: {supported}")
    return version


def seconds(value: object, source: str) -> float:
    try:
        number = float(str(value).strip()) if not isinstance(value, bool) else -1.0
    except ValueError:
        number = -1.0
    if not (number > 0 and math.isfinite(number)):
        raise _bad(source, value, "a positive number of seconds, e.g. 5 or 0.5")
    return number


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in _TRUE + _FALSE:
        raise _bad(source, value, f"a yes/no flag: {'/'.join(_TRUE)} or {'/'.join(_FALSE)}")
    return word in _TRUE


def pem_file(value: object, source: str) -> str:
    path = os.path.expanduser(str(value).strip())
    if not os.path.isfile(path):
        raise ConfigurationError(
            f"{source} = {str(value)!r} does not exist or is not a file; accepted: the path of a PEM file"
        )
    return path


def url_path(value: object, source: str) -> str:
    path = str(value).strip()
    if not re.fullmatch(r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*", path):
        raise _bad(source, value, "a URL path starting with '/', e.g. '/healthz'")
    return path


def keyspaces(value: object, source: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise _bad(source, value, "a comma-separated string or a list of keyspace names")
    return tuple(keyspace(item, source) for item in items if str(item).strip())


def jitter(value: object, source: str) -> float:
    try:
        number = float(str(value).strip()) if not isinstance(value, bool) else -1.0
    except ValueError:
        number = -1.0
    if not (0 <= number <= 60):
        raise _bad(source, value, "a number of seconds from 0 to 60, e.g. 0.5")
    return number


def choice(accepted: tuple[str, ...]) -> Callable[[Any, str], str]:
    """A converter for an enumeration (case-insensitive); a near miss gets "did you mean ...?"."""

    def convert(value: object, source: str) -> str:
        chosen = str(value).strip().lower()
        if chosen not in accepted:
            raise ConfigurationError.not_one_of(source, value, accepted)
        return chosen

    return convert


def warmer(value: object, source: str) -> str:
    """A registered warmer name (see :mod:`wsgi_cassandra.warmers`; the registry can grow)."""
    from .warmers import names

    return choice(tuple(names()))(value, source)


def _consistency_names() -> dict[str, int]:
    from cassandra import ConsistencyLevel  # light: the package root, not cassandra.cluster

    return dict(ConsistencyLevel.name_to_value)


def consistency(value: object, source: str) -> str:
    """A consistency level by name (any case), or a ``ConsistencyLevel`` constant; the upper-case name out."""
    names = _consistency_names()
    return _level(value, source, names, [name for name in names if "SERIAL" not in name])


def serial_consistency(value: object, source: str) -> str:
    """``SERIAL`` or ``LOCAL_SERIAL`` (the only levels for the Paxos phase of conditional writes)."""
    names = _consistency_names()
    return _level(value, source, names, [name for name in names if "SERIAL" in name])


def _level(value: object, source: str, names: dict[str, int], accepted: list[str]) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        by_value = {number: name for name, number in names.items()}
        name = by_value.get(value, "")
    else:
        name = str(value).strip().upper()
    if name not in accepted:
        raise ConfigurationError.not_one_of(source, value, accepted)
    return name


def execution_profiles(value: object, source: str) -> tuple[tuple[str, Any], ...]:
    """Named ``ExecutionProfile`` objects (a mapping), kept as sorted ``(name, profile)`` pairs.

    The default profile is built from the settings (consistency, serial consistency, request timeout,
    load balancing); a profile named like it would silently replace those, so it is refused.
    """
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile

    if isinstance(value, tuple):  # already converted (Settings.with_)
        value = dict(value)
    if not hasattr(value, "items"):
        raise _bad(source, value, "a mapping of profile name -> cassandra.cluster.ExecutionProfile")
    pairs = []
    for name, profile in value.items():
        if name is EXEC_PROFILE_DEFAULT or name == EXEC_PROFILE_DEFAULT:
            raise ConfigurationError(
                f"{source} names the default profile; accepted: other names (the default one comes from "
                "CASSANDRA_CONSISTENCY, CASSANDRA_SERIAL_CONSISTENCY and CASSANDRA_REQUEST_TIMEOUT)"
            )
        if not isinstance(name, str) or not name.strip():
            raise _bad(source, name, "profile names that are non-empty strings")
        if not isinstance(profile, ExecutionProfile):
            raise ConfigurationError(
                f"{source}: profile {name!r} is a {type(profile).__name__}; "
                "accepted: a cassandra.cluster.ExecutionProfile"
            )
        pairs.append((name, profile))
    return tuple(sorted(pairs, key=lambda pair: pair[0]))


def callback(value: object, source: str) -> Callable[..., Any]:
    if not callable(value):
        raise _bad(source, value, "a callable")
    return value
