"""One exception hierarchy for everything that can go wrong talking to the Diga API.

Every error carries the endpoint path, the HTTP status (when there was a response), and the
API's own ``error_code`` and ``message``. None of them ever carries the API key: the client never
puts headers into messages, and query strings hold only filters.
"""

from __future__ import annotations


class DigaApiError(Exception):
    """Base class: a request to the Diga API did not give a usable answer."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        status: int | None = None,
        error_code: str | None = None,
        api_message: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.status = status
        self.error_code = error_code
        self.api_message = api_message
        self.attempts = attempts


class DigaAuthError(DigaApiError):
    """401/403: the key is missing, wrong, or lacks a permission. Never retried."""


class DigaInvalidRequestError(DigaApiError):
    """400/404/422: the API refused the request as asked. Never retried."""


class DigaCallNotFoundError(DigaInvalidRequestError):
    """404 ``CALL_NOT_FOUND`` on a call's own endpoint (its transcript): the call does not exist,
    most likely deleted since it was listed (Diga lets a project delete calls). ``call_id`` names
    it, so a caller walking many calls can count the missing ones and go on. Never retried."""

    def __init__(
        self,
        message: str,
        *,
        call_id: str,
        path: str,
        status: int | None = 404,
        error_code: str | None = "CALL_NOT_FOUND",
        api_message: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(
            message, path=path, status=status, error_code=error_code, api_message=api_message, attempts=attempts
        )
        self.call_id = call_id


class DigaRateLimitError(DigaApiError):
    """429 answers went on past the retry caps."""


class DigaServerError(DigaApiError):
    """5xx answers went on past the retry caps."""


class DigaConnectionError(DigaApiError):
    """Connection failures or timeouts went on past the retry caps."""


class DigaProtocolError(DigaApiError):
    """The API answered 2xx with something the client cannot trust: not JSON, not the documented
    page shape, or a cursor that does not move forward (which would otherwise loop forever)."""


class DigaRequestValidationError(ValueError):
    """A request was refused locally, before anything was sent: a parameter is out of the spec."""

    def __init__(self, path: str, parameter: str, problem: str) -> None:
        super().__init__(f"invalid parameter {parameter!r} for GET {path}: {problem}")
        self.path = path
        self.parameter = parameter
