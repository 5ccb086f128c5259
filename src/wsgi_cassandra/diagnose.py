"""Turn driver exceptions into one-line, secret-free explanations that name the setting to fix.

A failed connect surfaces as ``NoHostAvailable`` holding one error per host, often wrapped (a TLS failure
arrives as a ``PermissionError`` whose text carries the OpenSSL reason). Operators read the result in the
worker log, in the 503 body and in the health endpoint, so it says *what* failed, *where*, and *which
setting* fixes it::

    no Cassandra host reachable (10.0.0.7:9042: connection refused): nothing listens there; check
    CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT

Nothing here ever includes a password: the texts used come from the driver's errors, which never carry
it, and authentication failures are described by us, not by the server's message.
"""

from __future__ import annotations

import re

__all__ = ["describe_error", "is_permanent"]

_KEYSPACE_USE = re.compile(r"using keyspace '([^']*)'")
_SSL_REASON = re.compile(r"\[SSL: ([A-Z_]+)\][^(]*?(?:: ([^(]+?))?\s*\(_ssl\.c")


def _leaves(exc: BaseException) -> list[BaseException]:
    """The per-host errors inside a ``NoHostAvailable``, or the exception itself."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict) and errors:
        return [e for e in errors.values() if isinstance(e, BaseException)] or [exc]
    return [exc]


def _is_auth_failure(exc: BaseException) -> bool:
    return any(type(leaf).__name__ == "AuthenticationFailed" for leaf in _leaves(exc))


def _missing_keyspace(exc: BaseException) -> str | None:
    """The keyspace name when the error says it cannot be used: the driver's "Unable to connect to any
    servers using keyspace 'x'" (every pool failed its ``USE``) or the server's "Keyspace 'x' does not exist".
    """
    text = str(exc)
    if type(exc).__name__ == "NoHostAvailable":
        match = _KEYSPACE_USE.search(text)
        return match.group(1) if match else None
    if type(exc).__name__ == "InvalidRequest" and "does not exist" in text.lower():
        match = re.search(r"[Kk]eyspace '?([\w]+)'?", text)
        return match.group(1) if match else "?"
    return None


def _is_protocol_mismatch(exc: BaseException) -> bool:
    return any("protocol_version" in str(leaf) or "ProtocolError" in str(leaf) for leaf in _leaves(exc))


def is_permanent(exc: BaseException) -> bool:
    """Errors that retrying soon cannot fix (wrong credentials, missing keyspace, unsupported protocol)."""
    return _is_auth_failure(exc) or _missing_keyspace(exc) is not None or _is_protocol_mismatch(exc)


def describe_error(exc: BaseException) -> str:
    """One line for logs, health checks and 503 bodies: the cause and, where known, the setting to fix."""
    if _is_auth_failure(exc):
        if any("requires authentication" in str(leaf) for leaf in _leaves(exc)):
            return "the cluster requires authentication: set CASSANDRA_USERNAME and CASSANDRA_PASSWORD (or _FILE)"
        return "authentication failed: check CASSANDRA_USERNAME and CASSANDRA_PASSWORD (or CASSANDRA_PASSWORD_FILE)"
    keyspace = _missing_keyspace(exc)
    if keyspace is not None:
        return f"keyspace {keyspace!r} does not exist (no host would use it): create it, or fix CASSANDRA_KEYSPACE"
    name = type(exc).__name__
    if name == "UnresolvableContactPoints":
        return "no contact point resolves to an address (DNS): check the host names in CASSANDRA_CONTACT_POINTS"
    if name == "NoHostAvailable":
        errors = getattr(exc, "errors", None) or {}
        if not isinstance(errors, dict) or not errors:
            return (
                f"no Cassandra host reachable ({_first_line(exc)}); check CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT"
            )
        by_cause: dict[tuple[str, str], list[str]] = {}
        for host, leaf in errors.items():
            by_cause.setdefault(_classify(leaf), []).append(str(host))
        parts = [f"{', '.join(sorted(hosts))}: {cause}" for (cause, _), hosts in sorted(by_cause.items())]
        hints = sorted({hint for _, hint in by_cause})
        return f"no Cassandra host reachable ({'; '.join(parts)}): {'; '.join(hints)}"
    cause, hint = _classify(exc)
    return f"{cause}: {hint}"


def _classify(leaf: object) -> tuple[str, str]:
    """(what happened, what to do) for one host's connect error."""
    text = str(leaf)
    name = type(leaf).__name__
    ssl = _SSL_REASON.search(text)
    if ssl is not None or "certificate verify failed" in text:
        code = ssl.group(1) if ssl is not None else "CERTIFICATE_VERIFY_FAILED"
        reason = (ssl.group(2) or "").strip() if ssl is not None else ""
        if code == "CERTIFICATE_VERIFY_FAILED" and ("mismatch" in reason or "not valid for" in reason):
            return (
                f"TLS certificate does not match the node's address ({reason})",
                "the node certificate must name the address in CASSANDRA_CONTACT_POINTS, "
                "or set CASSANDRA_SSL_CHECK_HOSTNAME=false",
            )
        if code == "CERTIFICATE_VERIFY_FAILED":
            return (
                f"TLS certificate not trusted ({reason or 'verify failed'})",
                "set CASSANDRA_SSL_CA to the CA that signed the node certificates",
            )
        return (
            f"TLS handshake failed ({code.lower().replace('_', ' ')})",
            "check that the node serves TLS on CASSANDRA_PORT (else unset CASSANDRA_SSL / CASSANDRA_SSL_CA), "
            "and CASSANDRA_SSL_CERT / CASSANDRA_SSL_KEY if it wants a client certificate",
        )
    if name == "ConnectionRefusedError" or "Connection refused" in text:
        return "connection refused", "nothing listens there; check CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT"
    if name in ("OperationTimedOut", "TimeoutError", "timeout") or "Timed out" in text:
        return (
            "no answer in time",
            "the node may be overloaded or unreachable (CASSANDRA_CONNECT_TIMEOUT), or it wants TLS (CASSANDRA_SSL)",
        )
    if "was closed by server" in text:
        # The node hung up before its handshake answer: what a TLS-only node does with a plaintext frame, or
        # without a client certificate it requires (scylla-driver reports these so; cassandra-driver often
        # as a timeout or a TLS alert, classified above).
        return (
            "the node closed the connection during the handshake",
            "it may want TLS (CASSANDRA_SSL, CASSANDRA_SSL_CA) or a client certificate "
            "(CASSANDRA_SSL_CERT / CASSANDRA_SSL_KEY); else check CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT",
        )
    if name == "gaierror" or "Name or service not known" in text:
        return "host name does not resolve", "check CASSANDRA_CONTACT_POINTS"
    # The driver's own refusal names ``protocol_version``; a node's answer quotes Cassandra's two texts.
    refusals = ("protocol_version", "ProtocolError", "unsupported protocol version", "USE_BETA flag is unset")
    if any(words in text for words in refusals):
        return (
            "the node rejected the protocol version",
            "unset CASSANDRA_PROTOCOL_VERSION (the driver negotiates) or choose one the node supports",
        )
    return f"{name}: {_first_line(leaf)}", "check CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT"


def _first_line(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
