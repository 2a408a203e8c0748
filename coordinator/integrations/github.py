"""A small GitHub REST client over httpx: retries, rate limits, pagination, clear errors.

Rate limits follow GitHub's documented rules: on 429, or a 403 that says it is
a rate limit, wait ``Retry-After`` seconds when given, else until
``x-ratelimit-reset`` when ``x-ratelimit-remaining`` is 0, else (a secondary
limit without headers) a minute, doubling, for a bounded number of attempts.
A wait longer than ``max_wait_s`` is not slept through: the error says when the
limit resets. Server errors and dropped connections are retried only for
requests that are safe to repeat; a POST is never sent twice, so a review is
never posted twice. Pagination follows ``Link: rel="next"`` only to the API's
own origin, so the token is never sent anywhere else.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from coordinator import __version__
from coordinator.errors import CouncilError
from coordinator.integrations import EXIT_NOT_POSTED

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
_RETRY_STATUS = frozenset({500, 502, 503, 504})
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_MAX_PAGES = 50  # 5,000 items at 100 per page: far beyond any PR council should comment on


class GitHubError(CouncilError):
    """GitHub refused or kept failing; the review could not be posted."""

    exit_code = EXIT_NOT_POSTED

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def no_permission(self) -> bool:
        """The token may not write here: a fork PR's read-only token, or missing permissions."""
        return self.status in (401, 403, 404)


def error_message(response: httpx.Response) -> str:
    """GitHub's own words: ``message`` plus any ``errors``, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    message = str(body.get("message") or response.reason_phrase)
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        details = [e.get("message") or str(e) if isinstance(e, dict) else str(e) for e in errors]
        message += ": " + "; ".join(details)
    return message


def _is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    headers = response.headers
    if "retry-after" in headers or headers.get("x-ratelimit-remaining") == "0":
        return True
    text = error_message(response).lower()
    return "rate limit" in text or "abuse" in text


class GitHubClient:
    """``async with GitHubClient(api_url, token) as gh: await gh.request("GET", "/user")``."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 4,
        max_wait_s: float = 300.0,
        timeout_s: float = 30.0,
    ) -> None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GitHubError(f"GITHUB_API_URL must be an http(s) URL, got {api_url!r}")
        self.api_url = api_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc)
        self._token = token
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self._max_wait_s = max_wait_s
        self._timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> GitHubClient:
        self._http = httpx.AsyncClient(
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self._token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"council/{__version__}",
            },
            timeout=self._timeout_s,
            transport=self._transport,
            follow_redirects=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.api_url + path

    def _rate_limit_wait(self, response: httpx.Response, attempt: int) -> float:
        headers = response.headers
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                pass
        reset = headers.get("x-ratelimit-reset")
        if headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
            return max(0.0, int(reset) - self._clock()) + 1.0
        return 60.0 * 2.0 ** (attempt - 1)  # a secondary limit that gave no hint

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """Send one request, retrying rate limits (and, when safe, server errors)."""
        if self._http is None:
            raise RuntimeError("GitHubClient used outside 'async with'")
        url = self._url(path)
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                response = await self._http.request(method, url, json=json, params=params)
            except httpx.TransportError as exc:
                if method not in _IDEMPOTENT or last:
                    raise GitHubError(f"cannot reach {self.api_url}: {exc!r}") from exc
                await self._sleep(2.0 ** (attempt - 1))
                continue
            if _is_rate_limited(response):
                wait = self._rate_limit_wait(response, attempt)
                if last or wait > self._max_wait_s:
                    raise GitHubError(
                        f"GitHub rate limit on {method} {path} ({error_message(response)}); "
                        f"it would take {wait:.0f}s more: try again later",
                        status=response.status_code,
                    )
                await self._sleep(wait)
                continue
            if response.status_code in _RETRY_STATUS and method in _IDEMPOTENT and not last:
                await self._sleep(2.0 ** (attempt - 1))
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """``request`` that returns the decoded JSON of a 2xx answer and raises otherwise."""
        response = await self.request(method, path, json=json, params=params)
        if not response.is_success:
            raise GitHubError(
                f"{method} {path}: HTTP {response.status_code}: {error_message(response)}",
                status=response.status_code,
            )
        return response.json() if response.content else None

    async def paginate(self, path: str, *, per_page: int = 100) -> list[Any]:
        """Every item of a list endpoint, following ``Link: rel="next"`` on this API only."""
        items: list[Any] = []
        url: str | None = path
        params: Mapping[str, str | int] | None = {"per_page": per_page}
        for _ in range(_MAX_PAGES):
            if url is None:
                break
            response = await self.request("GET", url, params=params)
            if not response.is_success:
                raise GitHubError(
                    f"GET {path}: HTTP {response.status_code}: {error_message(response)}",
                    status=response.status_code,
                )
            page = response.json()
            if not isinstance(page, list):
                raise GitHubError(f"GET {path}: expected a list, got {type(page).__name__}")
            items.extend(page)
            url, params = self._next_page(response), None  # the next link carries its query
        return items

    def _next_page(self, response: httpx.Response) -> str | None:
        match = _NEXT_LINK.search(response.headers.get("link", ""))
        if match is None:
            return None
        target = urlsplit(match.group(1))
        return match.group(1) if (target.scheme, target.netloc) == self._origin else None
