"""``python -m wsgi_cassandra check``: will this configuration work here, and how fast does it connect?

Before deploying, or when a worker logs a slow or failing warm-up, run the check with the same
environment as the web server. It reads the settings the middleware would read, shows them (passwords
masked) and the warmer ``auto`` would pick in this process, connects once exactly like a worker does,
and prints where the connect time went, what was negotiated, what the cluster looks like, and what to
change::

    $ CASSANDRA_CONTACT_POINTS=10.0.0.1 python -m wsgi_cassandra check

Exit status: 0 connected, 1 cannot connect (unreachable, authentication, missing keyspace), 2 the
configuration itself is invalid.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .config import Settings, options
from .exceptions import ConfigurationError
from .secret import Secret

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .connect import Connected

__all__ = ["EXIT_CANNOT_CONNECT", "EXIT_CONFIG", "EXIT_OK", "main", "run_check"]

EXIT_OK, EXIT_CANNOT_CONNECT, EXIT_CONFIG = 0, 1, 2

# Above these, the schema download is worth avoiding with the fast-connect profile.
LARGE_SCHEMA_TABLES = 200
SLOW_SCHEMA_MS = 200.0


def run_check(environ: Mapping[str, str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the whole check, printing the report to ``out`` (stdout) and failures to ``err`` (stderr);
    returns the exit status."""
    environ = os.environ if environ is None else environ
    out, err = out or sys.stdout, err or sys.stderr
    try:
        settings = Settings.resolve({}, environ)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    print("Configuration (explicit arguments would beat these):", file=out)
    for name, value, source in describe_settings(settings, environ):
        print(f"  {name:<22} {value:<34} {source}", file=out)
    try:
        print(f"Warmer: {describe_warmer(settings.warmer)}", file=out)
        connector = _Connector(settings)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    points = ", ".join(settings.contact_points)
    print(f"Connecting to {points} (port {settings.port}) ...", file=out, flush=True)
    try:
        connected = connector(os.getpid())
    except Exception as exc:
        from .diagnose import describe_error

        print(f"cannot connect: {describe_error(exc)}", file=err)
        if settings.local_dc is not None and type(exc).__name__ == "NoHostAvailable":
            dcs = datacenters(settings.with_(local_dc=None))
            if dcs and settings.local_dc not in dcs:
                print(
                    f"  CASSANDRA_LOCAL_DC={settings.local_dc} names no data centre of this cluster, so the driver "
                    f"ignores every host; accepted: {', '.join(dcs)}",
                    file=err,
                )
        return EXIT_CANNOT_CONNECT
    try:
        for line in report(settings, connected, first_version=connector.first_version):
            print(line, file=out)
    finally:
        connected.cluster.shutdown()
    return EXIT_OK


def describe_settings(settings: Settings, environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(setting, value as shown, where it came from) for every setting read from the environment; secrets
    are masked."""
    rows = []
    for option in options():
        if option.env is None:
            continue  # a keyword argument only: the check reads the environment
        value = getattr(settings, option.name)
        if isinstance(value, Secret):
            shown = "******** (set)"
        else:
            shown = ",".join(value) if isinstance(value, tuple) else str(value)
            shown = "-" if value is None or not shown else shown
        given = [var for var in (option.env, option.file_env) if var and (environ.get(var) or "").strip()]
        rows.append((option.name, shown, given[0] if given else "default"))
    return rows


def describe_warmer(name: str) -> str:
    """What the configured warmer does in this process; ``auto`` says which it would choose here. Asks each
    warmer (``available()``) without installing any: no hooks, no global state."""
    from .warmers import get_warmer
    from .warmers.auto import AutoWarmer

    warmer = get_warmer(name)  # unknown names raise ConfigurationError
    if not isinstance(warmer, AutoWarmer):
        return f"{warmer.name} (WSGI_CASSANDRA_WARMER)"
    return f"auto -> {' + '.join(warmer.plan())} in this process (in a worker it picks that server's hooks)"


def describe_connection_class(cluster: Any) -> str:
    """The driver's event loop this process's Cluster uses, and why it was chosen."""
    from .reactors import driver_version, green_patched

    chosen = cluster.connection_class
    green = green_patched()
    why = f"this process is monkey-patched by {green}" if green else "not monkey-patched: libev > asyncore > asyncio"
    return f"{chosen.__module__}.{chosen.__name__} ({why}; {driver_version()})"


def datacenters(settings: Settings) -> list[str]:
    """The cluster's data centres, from one quick connect without schema; empty if that fails too."""
    from .driver import cluster_kwargs
    from .reactors import import_cluster_module

    try:
        cluster = import_cluster_module().Cluster(**{**cluster_kwargs(settings), "schema_metadata_enabled": False})
    except Exception:
        return []
    try:
        cluster.connect()
        return sorted({str(host.datacenter) for host in cluster.metadata.all_hosts() if host.datacenter})
    except Exception:
        return []
    finally:
        cluster.shutdown()


class _Connector:
    """The worker's connector (same settings, no jitter), remembering the protocol version it started at."""

    def __init__(self, settings: Settings) -> None:
        from .connect import Connector
        from .driver import cluster_factory

        build = cluster_factory(settings)  # unreadable TLS files raise ConfigurationError here
        self.first_version: int | None = None

        def factory() -> Any:
            cluster = build()
            self.first_version = cluster.protocol_version
            return cluster

        self._connect = Connector(
            factory,
            keyspace=settings.keyspace,
            schema_metadata=settings.schema_metadata,
            metadata_keyspaces=settings.metadata_keyspaces,
        )

    def __call__(self, pid: int) -> Connected:
        return self._connect(pid)


def report(settings: Settings, connected: Connected, *, first_version: int | None) -> list[str]:
    """The lines after a successful connect: phases, what was negotiated, the cluster, and advice."""
    cluster = connected.cluster
    lines = [f"Connected in {connected.total_ms:.0f} ms:"]
    lines += [f"  {phase:<22} {ms:8.1f} ms" for phase, ms in connected.phases.items()]
    hosts = list(cluster.metadata.all_hosts())
    up = [host for host in hosts if host.is_up]
    releases = sorted({str(host.release_version) for host in hosts if host.release_version})
    dcs: dict[str, int] = {}
    for host in hosts:
        dcs[str(host.datacenter)] = dcs.get(str(host.datacenter), 0) + 1
    negotiated = cluster.protocol_version
    downgraded = settings.protocol_version is None and first_version is not None and negotiated != first_version
    keyspaces = cluster.metadata.keyspaces
    user = {name: ks for name, ks in keyspaces.items() if not name.startswith(("system", "dse_"))}
    tables = sum(len(ks.tables) for ks in keyspaces.values())
    user_tables = sum(len(ks.tables) for ks in user.values())
    version_note = (
        f"negotiated down from {first_version}"
        if downgraded
        else "pinned"
        if settings.protocol_version
        else "first try"
    )
    lines += [
        "Cluster:",
        f"  protocol version       {negotiated} ({version_note})",
        f"  connection class       {describe_connection_class(cluster)}",
        f"  release version        {', '.join(releases) or 'unknown'}",
        f"  data centres           {', '.join(f'{dc} ({n} host(s))' for dc, n in sorted(dcs.items()))}",
        f"  hosts                  {len(up)} up of {len(hosts)}",
        f"  schema                 {len(keyspaces)} keyspaces ({len(user)} user), {tables} tables ({user_tables} user)"
        + ("" if settings.schema_metadata == "full" else f"; schema metadata: {settings.schema_metadata}"),
        "Default execution profile (what a statement without execution_profile= gets):",
        *(f"  {line}" for line in describe_profile(cluster.profile_manager.default)),
        "Advice:",
    ]
    advice = _advice(settings, connected, negotiated=negotiated, downgraded=downgraded, dcs=dcs, tables=tables)
    lines += [f"  - {item}" for item in advice] or ["  - none: this configuration connects as fast as it can"]
    return lines


def describe_profile(profile: Any) -> list[str]:
    """An execution profile as the ``check`` command shows it, one field a line."""
    from cassandra import ConsistencyLevel

    def level(value: int | None, default: str) -> str:
        return default if value is None else str(ConsistencyLevel.value_to_name.get(value, value))

    policy = profile.load_balancing_policy
    child = getattr(policy, "_child_policy", None)
    local_dc = getattr(child if child is not None else policy, "local_dc", None)
    policy_name = type(policy).__name__ + (f"({type(child).__name__})" if child is not None else "")
    return [
        f"consistency            {level(profile.consistency_level, 'LOCAL_ONE')}",
        f"serial consistency     {level(profile.serial_consistency_level, 'SERIAL (driver default)')}",
        f"request timeout        {profile.request_timeout:g} s",
        f"row factory            {getattr(profile.row_factory, '__name__', repr(profile.row_factory))}",
        f"load balancing         {policy_name}" + (f", local DC {local_dc}" if local_dc else ""),
    ]


def _advice(
    settings: Settings, connected: Connected, *, negotiated: int, downgraded: bool, dcs: dict[str, int], tables: int
) -> list[str]:
    advice = []
    phases = connected.phases
    if downgraded:
        advice.append(
            f"set CASSANDRA_PROTOCOL_VERSION={negotiated}: the driver stepped down to it, which costs every worker "
            "extra round trips (and warnings in its log) on each connect"
        )
    if settings.local_dc is not None and settings.local_dc not in dcs:
        advice.append(
            f"CASSANDRA_LOCAL_DC={settings.local_dc} names no data centre of this cluster; "
            f"accepted: {', '.join(sorted(dcs))}"
        )
    elif settings.local_dc is None and len(dcs) > 1:
        advice.append(
            f"set CASSANDRA_LOCAL_DC to the data centre next to these web servers (one of {', '.join(sorted(dcs))}): "
            "otherwise the DC of the first contact point that answers is used"
        )
    schema_ms = phases.get("schema", 0.0)
    if settings.schema_metadata == "full" and (tables > LARGE_SCHEMA_TABLES or schema_ms > SLOW_SCHEMA_MS):
        advice.append(
            f"the schema download took {schema_ms:.0f} ms for {tables} tables: set WSGI_CASSANDRA_FAST_CONNECT=1 "
            "so that workers fetch only their keyspaces' metadata"
        )
    total_s = connected.total_ms / 1000.0
    if total_s > settings.warm_timeout / 2:
        advice.append(
            f"the connect took {total_s:.1f} s, over half of WSGI_CASSANDRA_WARM_TIMEOUT={settings.warm_timeout:g}: "
            "raise it, or first requests may find no session yet"
        )
    if len(settings.contact_points) == 1 and len(connected.cluster.metadata.all_hosts()) > 1:
        advice.append(
            "list two or more hosts in CASSANDRA_CONTACT_POINTS: with one, no worker can start while that host is down"
        )
    return advice


def main(argv: Sequence[str] | None = None) -> int:
    """The ``check`` command: its options, logging, then :func:`run_check`; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="wsgi-cassandra check",
        description="Read the environment like the middleware, connect once, report phases, cluster facts and "
        "advice. Exit status: 0 connected, 1 cannot connect, 2 invalid configuration.",
    )
    parser.add_argument("--verbose", action="store_true", help="show the driver's own log messages too")
    args = parser.parse_args(argv)
    # The check reports failures itself, in one line; the driver's tracebacks only with --verbose.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("cassandra").setLevel(logging.CRITICAL)
    return run_check()


if __name__ == "__main__":  # python -m wsgi_cassandra.check: the same as python -m wsgi_cassandra check
    sys.exit(main())
