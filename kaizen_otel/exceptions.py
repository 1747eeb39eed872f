"""The errors kaizen_otel raises.

Each one is a distinct type so callers can catch exactly the failure they can handle: a bad
setting is a programming or deployment error (``KaizenConfigError`` is a ``ValueError``), a
failed audit append means a record was *not* made durable, and a budget error means a paid call
was refused before it was made.
"""

from __future__ import annotations

__all__ = ["AuditError", "BudgetExceededError", "KaizenConfigError", "KaizenError"]


class KaizenError(Exception):
    """Base class of every error raised by kaizen_otel."""


class KaizenConfigError(KaizenError, ValueError):
    """A setting has a value that is not allowed.

    The message names the setting, where the value came from, the value given and what is
    allowed, so it can be fixed without reading the source.
    """

    def __init__(self, setting: str, value: object, allowed: str, source: str = "argument") -> None:
        self.setting = setting
        self.value = value
        self.allowed = allowed
        self.source = source
        super().__init__(f"invalid value for {setting} (from {source}): {value!r}; expected {allowed}")


class AuditError(KaizenError):
    """An audit record could not be made durable, or a trail could not be opened.

    Raised to the caller of ``record()``: an audit record is acknowledged only once it is on
    disk, so a failure must never be swallowed.
    """


class BudgetExceededError(KaizenError):
    """A budget in enforce mode was crossed; the next paid call is refused before it is made."""

    def __init__(self, message: str, *, scope: str = "", limit: float = 0.0, used: float = 0.0) -> None:
        self.scope = scope
        self.limit = limit
        self.used = used
        super().__init__(message)
