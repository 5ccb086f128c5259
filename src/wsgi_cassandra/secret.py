"""A password that cannot leak by accident: not in ``repr``, ``str``, logs, tracebacks or error messages.

Settings hold the password as a ``Secret`` from the moment it is read, so that printing the settings, a
failed attempt's traceback or the health endpoint never shows it; only the code that builds the driver's
auth provider asks for it::

    PlainTextAuthProvider(settings.username, settings.password.reveal())
"""

from __future__ import annotations

__all__ = ["Secret"]


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
