"""Settings: the one table of every setting, and the validated, immutable object built from it.

Each setting is declared once, as a field of :class:`Settings`: its name (the keyword argument), its type,
its default, its environment variable, its converter and a one-line doc. Everything else is derived from
that table: reading the environment (:func:`settings_from_env`), validation, the keyword arguments'
documentation that ``help(CassandraMiddleware)`` shows (:func:`arguments_doc`) and the README's
configuration table (:func:`readme_table`, checked by ``tests/test_config.py``). Adding a setting means
one field here, one keyword argument in ``CassandraMiddleware.__init__`` (a test fails if the two
disagree) and its tests.

An explicit keyword argument beats the environment variable, which beats the default. Every value is
checked while the middleware is being built, and a bad one raises :class:`ConfigurationError` naming the
setting, the value (never a password) and what is accepted::

    >>> settings_from_env({"CASSANDRA_KEYSPACE": "shop"})
    {'keyspace': 'shop'}
    >>> Settings.resolve({"keyspace": "explicit"}, {"CASSANDRA_KEYSPACE": "shop"}).keyspace
    'explicit'
"""

from __future__ import annotations

import os
from dataclasses import Field, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Callable, Literal, get_args

from . import convert as c
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cassandra.cluster import ExecutionProfile, Session

    from .secret import Secret

__all__ = [
    "OnUnavailable",
    "Option",
    "SchemaMetadata",
    "Settings",
    "WarmerName",
    "arguments_doc",
    "options",
    "readme_table",
    "settings_from_env",
]

#: What a request that touches the session gets while none is ready: a 503, or the app handles it.
OnUnavailable = Literal["503", "app"]
#: How much schema metadata each worker fetches when it connects (docs/performance.md).
SchemaMetadata = Literal["full", "keyspaces", "background", "none"]
#: The built-in warmers (``wsgi_cassandra.warmers.register`` can add more names).
WarmerName = Literal["auto", "lazy", "eager", "fork", "uwsgi", "gunicorn"]


@dataclass(frozen=True)
class Option:
    """One row of the settings table, as :func:`options` returns it."""

    name: str
    type: str  # the Settings field's annotation
    default: Any
    env: str | None  # None: a keyword argument only
    convert: Callable[[Any, str], Any]
    doc: str
    shown: str | None = None  # the default as the docs show it, when not the value itself
    file_env: str | None = None  # a variable naming a file that holds the value (a mounted secret)
    blank_is_error: bool = False  # an empty variable is a mistake, not "unset"
    argument: str | None = None  # the keyword argument's type, when it accepts more than ``type``
    choices: tuple[str, ...] = ()  # an enumeration's accepted values (its Literal type's)

    @property
    def shown_default(self) -> str:
        if self.shown is not None:
            return self.shown
        value = self.default
        if value is None or value == ():
            return "none"
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return ",".join(value) if isinstance(value, tuple) else str(value)


def _row(
    env: str | None,
    doc: str,
    convert: Callable[[Any, str], Any] | None = None,
    *,
    choices: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """A row of the table, kept in its dataclass field's metadata: everything but the name, type and default.

    An enumeration passes its ``Literal`` type as ``choices``: its values are the accepted ones, and its
    converter suggests the closest for a typo.
    """
    accepted: tuple[str, ...] = get_args(choices) if choices is not None else ()
    converter = convert if convert is not None else c.choice(accepted)
    return {"option": {"env": env, "doc": doc, "convert": converter, "choices": accepted, **extra}}


@dataclass(frozen=True)
class Settings:
    """Everything the middleware needs to build a ``Cluster``, warm it and serve; THE table of settings."""

    contact_points: tuple[str, ...] = field(
        default=("127.0.0.1",),
        metadata=_row(
            "CASSANDRA_CONTACT_POINTS",
            "Comma-separated `host`, `host:port` or `[ipv6]:port`",
            c.contact_points,
            blank_is_error=True,
            argument="str | list[str] | tuple[str, ...]",
        ),
    )
    port: int = field(default=9042, metadata=_row("CASSANDRA_PORT", "Port for contact points without one", c.port))
    keyspace: str | None = field(
        default=None, metadata=_row("CASSANDRA_KEYSPACE", "Keyspace the session uses", c.keyspace)
    )
    username: str | None = field(
        default=None, metadata=_row("CASSANDRA_USERNAME", "PasswordAuthenticator user name", c.text)
    )
    password: Secret | None = field(
        default=None,
        repr=False,
        metadata=_row(
            "CASSANDRA_PASSWORD",
            "Its password (never shown in errors, logs or `repr`)",
            c.secret,
            file_env="CASSANDRA_PASSWORD_FILE",
            argument="str | Secret",
        ),
    )
    local_dc: str | None = field(
        default=None,
        metadata=_row(
            "CASSANDRA_LOCAL_DC",
            "Local data centre for the load-balancing policy",
            c.text,
            shown="DC of the first contact point",
        ),
    )
    protocol_version: int | None = field(
        default=None,
        metadata=_row(
            "CASSANDRA_PROTOCOL_VERSION",
            "Pin the native protocol version (no step-down round trips)",
            c.protocol_version,
            shown="negotiated",
        ),
    )
    connect_timeout: float = field(
        default=5.0,
        metadata=_row(
            "CASSANDRA_CONNECT_TIMEOUT", "Seconds per connection attempt and control-connection query", c.seconds
        ),
    )
    # The default execution profile (named profiles: ``execution_profiles`` below).
    consistency: str = field(
        default="LOCAL_ONE",
        metadata=_row("CASSANDRA_CONSISTENCY", "Consistency level of the default execution profile", c.consistency),
    )
    serial_consistency: str | None = field(
        default=None,
        metadata=_row(
            "CASSANDRA_SERIAL_CONSISTENCY",
            "Serial consistency of conditional writes: `SERIAL` or `LOCAL_SERIAL`",
            c.serial_consistency,
            shown="driver's (`SERIAL`)",
        ),
    )
    request_timeout: float = field(
        default=10.0,
        metadata=_row("CASSANDRA_REQUEST_TIMEOUT", "Seconds a request waits for its answer (client side)", c.seconds),
    )
    ssl: bool = field(default=False, metadata=_row("CASSANDRA_SSL", "TLS with the system's CA store", c.flag))
    ssl_ca: str | None = field(
        default=None, metadata=_row("CASSANDRA_SSL_CA", "PEM bundle of CAs to trust (turns TLS on)", c.pem_file)
    )
    ssl_cert: str | None = field(
        default=None, metadata=_row("CASSANDRA_SSL_CERT", "Client certificate (PEM)", c.pem_file)
    )
    ssl_key: str | None = field(default=None, metadata=_row("CASSANDRA_SSL_KEY", "Its private key (PEM)", c.pem_file))
    ssl_check_hostname: bool = field(
        default=True,
        metadata=_row("CASSANDRA_SSL_CHECK_HOSTNAME", "Check each node's certificate against its address", c.flag),
    )
    warmer: str = field(
        default="auto",
        metadata=_row(
            "WSGI_CASSANDRA_WARMER",
            "When the session is built (see [Servers](#servers)); also a `Warmer` object",
            c.warmer,
            argument="WarmerName | str | Warmer",
        ),
    )
    warm_timeout: float = field(
        default=10.0,
        metadata=_row(
            "WSGI_CASSANDRA_WARM_TIMEOUT",
            "Longest a warm-up, or a worker's first request, waits for the first connect",
            c.seconds,
        ),
    )
    retry_max: float = field(
        default=30.0,
        metadata=_row(
            "WSGI_CASSANDRA_RETRY_MAX",
            "Longest pause between connect attempts (exponential backoff with jitter)",
            c.seconds,
        ),
    )
    shutdown_timeout: float = field(
        default=5.0,
        metadata=_row(
            "WSGI_CASSANDRA_SHUTDOWN_TIMEOUT",
            "Longest a worker waits for the driver to shut down when it exits",
            c.seconds,
        ),
    )
    health_path: str | None = field(
        default=None,
        metadata=_row(
            "WSGI_CASSANDRA_HEALTH_PATH",
            "Path answered by the readiness endpoint, e.g. `/healthz`",
            c.url_path,
            shown="off",
        ),
    )
    # Fast connect (docs/performance.md): the profile, and the parts it turns on that are also settable alone.
    fast_connect: bool = field(
        default=False,
        metadata=_row("WSGI_CASSANDRA_FAST_CONNECT", "The fast-connect profile ([Performance](#performance))", c.flag),
    )
    schema_metadata: SchemaMetadata = field(
        default="full",
        metadata=_row(
            "WSGI_CASSANDRA_SCHEMA_METADATA",
            "Schema metadata each worker fetches",
            choices=SchemaMetadata,
            argument="SchemaMetadata",
        ),
    )
    metadata_keyspaces: tuple[str, ...] = field(
        default=(),
        metadata=_row(
            "WSGI_CASSANDRA_METADATA_KEYSPACES",
            "More keyspaces to fetch metadata for, comma-separated",
            c.keyspaces,
            argument="str | list[str] | tuple[str, ...]",
        ),
    )
    warm_jitter: float = field(
        default=0.0,
        metadata=_row(
            "WSGI_CASSANDRA_WARM_JITTER", "Random delay (seconds) before each worker's first connect", c.jitter
        ),
    )
    cqlengine: bool = field(
        default=False,
        metadata=_row(
            "WSGI_CASSANDRA_CQLENGINE",
            "Register each worker's session with cqlengine ([cqlengine models](#cqlengine-models))",
            c.flag,
        ),
    )
    metrics_path: str | None = field(
        default=None,
        metadata=_row(
            "WSGI_CASSANDRA_METRICS_PATH",
            "Path answering every worker's Prometheus metrics ([Metrics](#metrics)), e.g. `/metrics`",
            c.url_path,
            shown="off",
        ),
    )
    metrics_requests: bool = field(
        default=False,
        metadata=_row(
            "WSGI_CASSANDRA_METRICS_REQUESTS",
            "Also time the declared statements' requests and count their errors (opt-in)",
            c.flag,
        ),
    )
    # Keyword arguments only (no environment variable).
    on_unavailable: OnUnavailable = field(
        default="503",
        metadata=_row(
            None,
            "What a route using the session gets while none is ready (`app`: the app handles `SessionUnavailable`)",
            choices=OnUnavailable,
            argument="OnUnavailable",
        ),
    )
    execution_profiles: tuple[tuple[str, ExecutionProfile], ...] = field(
        default=(),
        metadata=_row(
            None,
            "Named `ExecutionProfile`s, added next to the default one",
            c.execution_profiles,
            argument="Mapping[str, ExecutionProfile]",
        ),
    )
    on_ready: Callable[[Session], object] | None = field(
        default=None,
        metadata=_row(
            None,
            "Called with the worker's `Session` once it is ready, before its first request ([Ready hook](#ready-hook))",
            c.callback,
        ),
    )
    environ_key: str = field(default="cassandra.session", metadata=_row(None, "Environ key of the `Session`", c.text))
    cluster_environ_key: str = field(
        default="cassandra.cluster", metadata=_row(None, "Environ key of the `Cluster`", c.text)
    )
    statements_environ_key: str = field(
        default="cassandra.statements", metadata=_row(None, "Environ key of the prepared statements", c.text)
    )

    @property
    def uses_tls(self) -> bool:
        return self.ssl or any((self.ssl_ca, self.ssl_cert, self.ssl_key))

    @classmethod
    def resolve(cls, explicit: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
        """Merge defaults, the environment and the explicit arguments (``None`` means "not given")."""
        values = settings_from_env(os.environ if environ is None else environ)
        table = {option.name: option for option in options()}
        arguments = set()
        for name, value in explicit.items():
            if value is None:
                continue
            if name not in table:
                raise ConfigurationError.not_one_of("setting name", name, sorted(table))
            values[name] = table[name].convert(value, f"{name}= argument")
            arguments.add(name)

        def source(name: str) -> str:  # where a value that is set came from: what an error must name
            return f"{name}=" if name in arguments else str(table[name].env)

        if values.get("fast_connect") and "schema_metadata" not in values:
            values["schema_metadata"] = "background"
        settings = cls(**values)
        settings._check_credentials()
        if settings.metrics_requests and settings.metrics_path is None:
            raise ConfigurationError(
                f"{source('metrics_requests')} is set without WSGI_CASSANDRA_METRICS_PATH (or metrics_path=): "
                "set the path that serves the metrics (e.g. /metrics)"
            )
        if settings.ssl_key is not None and settings.ssl_cert is None:
            raise ConfigurationError(
                f"{source('ssl_key')} is set without CASSANDRA_SSL_CERT (or ssl_cert=): set both for client "
                "certificates"
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


def _option(item: Field[Any]) -> Option:
    return Option(name=item.name, type=str(item.type), default=item.default, **item.metadata["option"])


_OPTIONS = tuple(_option(item) for item in fields(Settings))


def options() -> tuple[Option, ...]:
    """The settings table, in declaration order."""
    return _OPTIONS


def settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn the ``CASSANDRA_*`` / ``WSGI_CASSANDRA_*`` variables that are set into keyword arguments.

    An empty variable counts as unset, except where the table says that it is a mistake
    (``blank_is_error``, e.g. the contact points).
    """
    values: dict[str, Any] = {}
    for option in _OPTIONS:
        if option.env is None:
            continue
        raw = environ.get(option.env)
        from_file = _read_file_env(option, environ, given=bool(raw))
        if from_file is not None:
            values[option.name] = option.convert(from_file, option.file_env or option.env)
        elif raw is not None and (raw.strip() or option.blank_is_error):
            values[option.name] = option.convert(raw, option.env)
    return values


def _read_file_env(option: Option, environ: Mapping[str, str], *, given: bool) -> str | None:
    """The contents of the file named by ``option.file_env`` (without its final newline), if set."""
    path = environ.get(option.file_env) if option.file_env else None
    if not path:
        return None
    if given:
        raise ConfigurationError(f"both {option.env} and {option.file_env} are set; set only one of them")
    try:
        with open(path, encoding="utf-8") as handle:
            contents = handle.read().rstrip("\r\n")
    except OSError as exc:
        raise ConfigurationError(
            f"{option.file_env} = {path!r} cannot be read ({exc.strerror}); "
            f"accepted: the path of a readable file holding the {option.name}"
        ) from None
    if not contents:
        raise ConfigurationError(f"{option.file_env} = {path!r} is empty; accepted: a file holding the {option.name}")
    return contents


def _doc_with_choices(option: Option) -> str:
    return option.doc + (f": {', '.join(f'`{value}`' for value in option.choices)}" if option.choices else "")


def readme_table() -> str:
    """The README's configuration table, generated from the settings table."""
    lines = ["| Environment variable | Argument | Default | Meaning |", "|---|---|---|---|"]
    for option in _OPTIONS:
        env = f"`{option.env}`" if option.env else "—"
        default = option.shown_default
        default = default if option.shown is not None or option.default in (None, ()) else f"`{default}`"
        lines.append(f"| {env} | `{option.name}` | {default} | {_doc_with_choices(option)} |")
        if option.file_env:
            lines.append(
                f"| `{option.file_env}` | — | none | A file holding the {option.name} instead (a mounted secret) |"
            )
    return "\n".join(lines)


def arguments_doc() -> str:
    """The keyword arguments' documentation (appended to ``CassandraMiddleware``'s docstring)."""
    lines = ["    Settings (keyword arguments; each one not given is read from its environment variable):", ""]
    for option in _OPTIONS:
        where = f"env {option.env}" if option.env else "argument only"
        if option.file_env:
            where += f" or {option.file_env}"
        lines.append(
            f"    - {option.name}: {option.argument or option.type}  [{where}; default {option.shown_default}]"
        )
        lines.append(f"        {_doc_with_choices(option).replace('`', '')}")
    return "\n".join(lines)
