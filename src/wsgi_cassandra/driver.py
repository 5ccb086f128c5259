"""Turn :class:`Settings` into an unconnected ``cassandra.cluster.Cluster``.

This is the only module that imports ``cassandra.cluster`` (a heavy import), and only when a worker
builds its Cluster: importing ``wsgi_cassandra`` stays cheap and starts nothing. Every Cluster names its
connection class (event loop) explicitly, chosen when it is built: see :mod:`wsgi_cassandra.reactors`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable

from .convert import split_host_port
from .reactors import connection_class, green_connection_class, green_patched, import_cluster_module
from .tls import ssl_context

if TYPE_CHECKING:
    import ssl

    from cassandra.cluster import Cluster, ExecutionProfile
    from cassandra.policies import LoadBalancingPolicy

    from .config import Settings

ClusterFactory = Callable[[], "Cluster"]

#: The settings that only shape the ``Cluster`` built here (:func:`cluster_kwargs`, the TLS context): a
#: user's ``cluster_factory`` replaces them all, so the middleware refuses them given next to it.
CLUSTER_SETTINGS = (
    "contact_points",
    "port",
    "username",
    "password",
    "local_dc",
    "protocol_version",
    "connect_timeout",
    "consistency",
    "serial_consistency",
    "request_timeout",
    "execution_profiles",
    "ssl",
    "ssl_ca",
    "ssl_cert",
    "ssl_key",
    "ssl_check_hostname",
)


def cluster_kwargs(settings: Settings, tls: ssl.SSLContext | None = None) -> dict[str, Any]:
    """The keyword arguments for ``Cluster(...)`` that the settings imply; fresh policies on each call.

    ``tls`` is the context :func:`~wsgi_cassandra.tls.ssl_context` built (built here when not given).
    """
    driver = import_cluster_module()
    from cassandra.connection import DefaultEndPoint
    from cassandra.policies import DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy, TokenAwarePolicy

    contact_points: list[Any] = []
    for point in settings.contact_points:
        host, port = split_host_port(point)
        contact_points.append(host if port is None else DefaultEndPoint(host, port))
    # An explicit profile (not the deprecated load_balancing_policy= argument) keeps the driver quiet and
    # pins the local data centre when one is set; without it the DC of the first contact point is used.
    policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.local_dc or ""))
    kwargs: dict[str, Any] = {
        "contact_points": contact_points,
        "port": settings.port,
        "connect_timeout": settings.connect_timeout,
        "control_connection_timeout": settings.connect_timeout,
        # Always execution-profile mode: a later ``session.row_factory = ...`` raises instead of switching the
        # Cluster to legacy mode (after which every ``execution_profile=`` argument would raise).
        "execution_profiles": {
            driver.EXEC_PROFILE_DEFAULT: default_profile(settings, policy),
            **named_profiles(settings, policy),
        },
        # The driver's default waits up to 10 minutes between reconnections to a down node, and gives up
        # for good after 64 attempts (about an hour at our cap); a web worker should notice a recovered
        # node within a minute, however long it was away. (With *every* node down, recovery.py probes.)
        "reconnection_policy": ExponentialReconnectionPolicy(base_delay=1.0, max_delay=60.0, max_attempts=None),
        # Fast connect: no full schema download; the app's keyspaces are fetched alone (see fastconnect.py).
        "schema_metadata_enabled": settings.schema_metadata == "full",
        # Chosen now, in the process that builds the Cluster (after any monkey-patching), not when the
        # driver was first imported: see reactors.py.
        "connection_class": connection_class(),
    }
    context = tls if tls is not None else ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if settings.protocol_version is not None:
        kwargs["protocol_version"] = settings.protocol_version
    if settings.username is not None and settings.password is not None:
        from cassandra.auth import PlainTextAuthProvider

        kwargs["auth_provider"] = PlainTextAuthProvider(settings.username, settings.password.reveal())
    return kwargs


def default_profile(settings: Settings, policy: LoadBalancingPolicy) -> ExecutionProfile:
    """The default execution profile: the settings' consistency, serial consistency and request timeout."""
    from cassandra import ConsistencyLevel
    from cassandra.cluster import ExecutionProfile

    serial = settings.serial_consistency
    return ExecutionProfile(
        load_balancing_policy=policy,
        consistency_level=ConsistencyLevel.name_to_value[settings.consistency],
        serial_consistency_level=None if serial is None else ConsistencyLevel.name_to_value[serial],
        request_timeout=settings.request_timeout,
    )


def named_profiles(settings: Settings, policy: LoadBalancingPolicy) -> dict[str, ExecutionProfile]:
    """The ``execution_profiles`` setting, merged with the default profile: one that does not choose its own
    load-balancing policy shares the default's (local DC pinned) instead of the driver's unpinned one."""
    profiles = {}
    for name, given in settings.execution_profiles:
        profile = given
        if not getattr(given, "_load_balancing_policy_explicit", True):
            profile = copy.copy(given)  # the user's object stays as given; each Cluster gets its own copy
            profile.load_balancing_policy = policy
            profile._load_balancing_policy_explicit = True
        profiles[name] = profile
    return profiles


def cluster_factory(settings: Settings) -> ClusterFactory:
    """A callable building a fresh, unconnected Cluster from the settings each time it is called.

    The TLS context is built now, so that unreadable certificate files fail at construction; so does a
    process already monkey-patched by gevent/eventlet whose driver has no reactor for it.
    """
    tls = ssl_context(settings)
    check_green_reactor()

    def build() -> Cluster:
        cluster = import_cluster_module().Cluster(**cluster_kwargs(settings, tls))
        if settings.fast_connect and settings.protocol_version is None:
            from .fastconnect import start_at_newest_stable

            start_at_newest_stable(cluster)
        return cluster

    return build


def check_green_reactor() -> None:
    """Raise :class:`~wsgi_cassandra.exceptions.ConfigurationError` now if this process is monkey-patched by
    gevent/eventlet and the driver cannot run under it (the reactor is gone, or ``futurist`` is missing)."""
    green = green_patched()
    if green is not None:
        green_connection_class(green)


def matching_connection_class(factory: ClusterFactory) -> ClusterFactory:
    """Wrap a user's ``cluster_factory`` so that a Cluster it builds without choosing a connection class
    gets the one this process needs when it is monkey-patched (the driver's default was fixed at its
    import, possibly before the patching). A class the user chose is kept as it is."""

    def build() -> Cluster:
        cluster = factory()
        green = green_patched()
        if green is None:
            return cluster
        wanted = green_connection_class(green)
        driver = import_cluster_module()
        current = getattr(cluster, "connection_class", None)
        if current is driver.DefaultConnection and current is not wanted:
            cluster.connection_class = wanted  # before connect(), which initialises the reactor
        return cluster

    return build
