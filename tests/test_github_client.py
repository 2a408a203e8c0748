"""The GitHub client's retry, rate-limit and pagination rules (httpx.MockTransport)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from coordinator.integrations.github import GitHubClient, GitHubError

API = "https://api.github.test"
Handler = Callable[[httpx.Request], httpx.Response]


def run(handler: Handler, action: Callable[[GitHubClient], Any], **options: Any) -> Any:
    waits: list[float] = options.pop("waits", [])

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> Any:
        transport = httpx.MockTransport(handler)
        async with GitHubClient(API, "tok", transport=transport, sleep=sleep, **options) as gh:
            return await action(gh)

    return anyio.run(go)


def script(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return handler, seen


def test_sends_the_documented_headers() -> None:
    handler, seen = script(httpx.Response(200, json={"ok": True}))
    assert run(handler, lambda gh: gh.call("GET", "/user")) == {"ok": True}
    headers = seen[0].headers
    assert headers["authorization"] == "Bearer tok"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"].startswith("council/")


def test_server_errors_are_retried_for_gets_but_a_post_is_never_sent_twice() -> None:
    waits: list[float] = []
    handler, seen = script(httpx.Response(502), httpx.Response(503), httpx.Response(200, json=[]))
    run(handler, lambda gh: gh.call("GET", "/x"), waits=waits)
    assert len(seen) == 3
    assert waits == [1.0, 2.0]

    handler, seen = script(httpx.Response(502, json={"message": "Bad Gateway"}))
    with pytest.raises(GitHubError, match="HTTP 502: Bad Gateway"):
        run(handler, lambda gh: gh.call("POST", "/x", json={}))
    assert len(seen) == 1


def test_primary_rate_limit_waits_until_the_reset() -> None:
    waits: list[float] = []
    handler, _ = script(
        httpx.Response(
            403,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"},
            json={"message": "API rate limit exceeded"},
        ),
        httpx.Response(200, json={}),
    )
    run(handler, lambda gh: gh.call("GET", "/x"), waits=waits, clock=lambda: 1000.0)
    assert waits == [31.0]


def test_a_wait_longer_than_allowed_fails_with_a_clear_message() -> None:
    handler, seen = script(httpx.Response(429, headers={"retry-after": "3600"}))
    with pytest.raises(GitHubError, match=r"rate limit.*3600s"):
        run(handler, lambda gh: gh.call("POST", "/x", json={}), max_wait_s=300)
    assert len(seen) == 1


def test_gives_up_after_the_last_attempt() -> None:
    handler, seen = script(*[httpx.Response(429, headers={"retry-after": "1"})] * 4)
    with pytest.raises(GitHubError, match="rate limit"):
        run(handler, lambda gh: gh.call("GET", "/x"))
    assert len(seen) == 4


def test_a_plain_403_is_not_a_rate_limit() -> None:
    handler, seen = script(httpx.Response(403, json={"message": "Resource not accessible"}))
    with pytest.raises(GitHubError) as caught:
        run(handler, lambda gh: gh.call("POST", "/x", json={}))
    assert caught.value.no_permission
    assert len(seen) == 1


def test_dropped_connections_are_retried_for_gets_only() -> None:
    attempts: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        if len(attempts) == 1:
            raise httpx.ConnectError("reset", request=request)
        return httpx.Response(200, json=[])

    assert run(flaky, lambda gh: gh.call("GET", "/x")) == []
    attempts.clear()

    def down(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(GitHubError, match="cannot reach"):
        run(down, lambda gh: gh.call("POST", "/x", json={}))
    assert attempts == ["POST"]


def test_pagination_follows_next_links_on_this_api_only() -> None:
    pages = {
        "/items": httpx.Response(
            200, json=[1, 2], headers={"link": f'<{API}/items?page=2>; rel="next", <x>; rel="last"'}
        ),
        "/items?page=2": httpx.Response(
            200, json=[3], headers={"link": '<https://evil.test/items?page=3>; rel="next"'}
        ),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.url.path + (f"?{request.url.query.decode()}" if request.url.query else "")
        key = key.replace("?per_page=100", "")
        assert request.url.host == "api.github.test", "the token went to another host"
        return pages[key]

    assert run(handler, lambda gh: gh.paginate("/items")) == [1, 2, 3]


def test_the_api_url_must_be_http() -> None:
    with pytest.raises(GitHubError, match="GITHUB_API_URL"):
        GitHubClient("ftp://example", "tok")
