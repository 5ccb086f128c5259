"""Turn driver exceptions into one-line, secret-free explanations that name the setting to fix."""

from __future__ import annotations

__all__ = ["describe_error", "is_permanent"]


def _leaves(exc: BaseException) -> list[BaseException]:
    """The per-host errors inside a ``NoHostAvailable``, or the exception itself."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict) and errors:
        return [e for e in errors.values() if isinstance(e, BaseException)] or [exc]
    return [exc]


def _is_auth_failure(exc: BaseException) -> bool:
    return any(type(leaf).__name__ == "AuthenticationFailed" for leaf in _leaves(exc))


def _is_missing_keyspace(exc: BaseException) -> bool:
    return type(exc).__name__ == "InvalidRequest" and "does not exist" in str(exc).lower()


def is_permanent(exc: BaseException) -> bool:
    """Errors that retrying soon cannot fix (wrong credentials, missing keyspace)."""
    return _is_auth_failure(exc) or _is_missing_keyspace(exc)


def describe_error(exc: BaseException) -> str:
    """One line for logs, health checks and 503 bodies: the cause and, where known, the setting to fix."""
    if _is_auth_failure(exc):
        return "authentication failed: check CASSANDRA_USERNAME and CASSANDRA_PASSWORD (or CASSANDRA_PASSWORD_FILE)"
    if _is_missing_keyspace(exc):
        return f"{_first_line(exc)}: create it, or fix CASSANDRA_KEYSPACE"
    if type(exc).__name__ == "NoHostAvailable":
        hosts = ", ".join(sorted(str(host) for host in getattr(exc, "errors", {}) or {}))
        causes = sorted({type(leaf).__name__ for leaf in _leaves(exc)})
        return (
            f"no Cassandra host reachable ({hosts or 'no hosts tried'}: {', '.join(causes)}); "
            "check CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT"
        )
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
