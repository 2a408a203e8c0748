"""Request helpers shared by the API handlers."""

from __future__ import annotations

from collections.abc import Mapping


class HTTPError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(HTTPError):
    status = 400


def require_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if value is None:
        raise BadRequest(f"missing header {name}")
    return value
