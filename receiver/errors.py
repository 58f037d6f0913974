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


class AuthenticationFailed(DlreconError):
    """Missing or invalid credentials."""


class PermissionDenied(DlreconError):
    """The credentials lack the scope this needs."""


class DatabaseUnavailable(DlreconError):
    """The database is unreachable; try again later."""


class Overloaded(DlreconError):
    """Too much work queued; try again later."""
