"""dlrecon's error hierarchy. Domain errors know nothing of HTTP; one middleware maps them."""

from __future__ import annotations

from typing import Any


class DlreconError(Exception):
    """Something went wrong in dlrecon."""

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.details = details


class NotFound(DlreconError):
    """Not found."""


class InvalidInput(DlreconError):
    """The request is invalid."""


class Conflict(DlreconError):
    """The request conflicts with the current state."""


class TooLarge(DlreconError):
    """The request body is larger than this endpoint accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the body is larger than this endpoint accepts: at most {limit} bytes"
            f" ({_size(limit)})",
            limit_bytes=limit,
        )


def _size(n: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


class AuthenticationFailed(DlreconError):
    """Missing or invalid credentials."""


class PermissionDenied(DlreconError):
    """The credentials lack the scope this needs."""


class DatabaseUnavailable(DlreconError):
    """The database is unreachable; try again later."""


class Overloaded(DlreconError):
    """Too much work queued; try again later."""


class ClientDisconnected(DlreconError):
    """The client closed the connection before its request was complete."""


class RequestTimeout(DlreconError):
    """The client did not send its request in time."""
