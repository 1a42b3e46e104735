"""Errors services raise; each message is written for the person who will read it."""

from __future__ import annotations


class ServiceError(Exception):
    """A request that cannot be done as asked. `str(err)` is safe to show to the user."""


class ValidationError(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class PermissionDenied(ServiceError):
    pass


class AuthError(ServiceError):
    pass


class RateLimited(ServiceError):
    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
