"""Council's own review comments on a pull request: which they are, and retiring stale ones.

**Which are council's.** A review comment is council's when it carries a
fingerprint marker, is not a reply (council never replies, so a marker quoted in
a reply proves nothing), and council wrote it. To *recognise* what was already
reported, "council wrote it" means a bot, or the token's own user when
``GET /user`` knows it: an Actions token cannot ask, and a person re-running
with their own token should still see the Actions runs' comments. To *change* a
comment (delete or edit) the author must be the token's own identity: the login
``GET /user`` gives, else the author of something this run created; only when
neither is known (an Actions run that created nothing) does any bot count, as
above. GitHub lets anyone with write access delete other people's comments, so
this check is council's to make.

**Retiring** (reviewdog's rule). After the review is posted, a comment of ours is
stale when no finding it carries is reported any more, or when it is an outdated
line comment whose findings this run commented on again. A stale comment without
replies is deleted. One with replies stays, since people are discussing it; if
its finding is gone it is edited once to say from which head council stopped
reporting it, and the note goes again if the finding comes back. Nothing is
retired when a reviewer did not finish, nor on a file left out for the budget: a
finding missing there may be unreported, not fixed. A change answered 404 was
done already (someone deleted the comment); 403 means GitHub would not let us:
both are skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from coordinator.findings import UnreviewedReason
from coordinator.integrations.github import GitHubClient, GitHubError
from coordinator.integrations.github_event import PullRequest
from coordinator.integrations.github_review import (
    fingerprints_in,
    has_stale_note,
    with_stale_note,
    without_stale_note,
)
from coordinator.review import Review, ReviewerStatus


class Identity:
    """Who council is on this pull request (see the module docstring)."""

    def __init__(self, client: GitHubClient) -> None:
        self._client = client
        self._user_login: str | None = None  # from GET /user
        self._created_login: str | None = None  # the author of something this run created
        self._asked = False

    async def _ask(self) -> None:
        if not self._asked:
            self._asked = True
            response = await self._client.request("GET", "/user")
            if response.is_success:  # an Actions token answers 403 here: it is no user
                self._user_login = response.json().get("login")

    def created(self, item: Mapping[str, Any]) -> None:
        """Note the author of an object this run created: that is the token's identity."""
        login = (item.get("user") or {}).get("login")
        if self._created_login is None and isinstance(login, str):
            self._created_login = login

    async def owns(self, item: Mapping[str, Any]) -> bool:
        """Council wrote ``item``, for recognising what it reported before."""
        user = item.get("user") or {}
        if user.get("type") == "Bot":
            return True
        await self._ask()
        return self._user_login is not None and user.get("login") == self._user_login

    async def may_change(self, item: Mapping[str, Any]) -> bool:
        """Council wrote ``item`` as far as GitHub can tell: safe to delete or edit."""
        user = item.get("user") or {}
        login = self._user_login or self._created_login
        if login is None:
            await self._ask()
            login = self._user_login
        if login is not None:
            return user.get("login") == login
        return user.get("type") == "Bot"


@dataclass(frozen=True)
class OwnComment:
    """A review comment council posted earlier, as GitHub lists it now."""

    id: int
    fingerprints: tuple[str, ...]
    path: str
    on_file: bool  # subject_type "file": GitHub gives it no line
    outdated: bool  # a line comment whose line GitHub nulled after a push
    original_line: int
    replies: int
    body: str
    url: str
    item: Mapping[str, Any]


async def own_comments(
    client: GitHubClient, pull: PullRequest, identity: Identity
) -> list[OwnComment]:
    """Council's review comments on the PR, with the number of replies each has."""
    items = await client.paginate(f"{pull.path}/pulls/{pull.number}/comments")
    replies = Counter(i.get("in_reply_to_id") for i in items if i.get("in_reply_to_id"))
    out: list[OwnComment] = []
    for item in items:
        body = str(item.get("body") or "")
        fps = fingerprints_in(body)
        comment_id = item.get("id")
        if not fps or item.get("in_reply_to_id") or not isinstance(comment_id, int):
            continue
        if not await identity.owns(item):
            continue
        on_file = item.get("subject_type") == "file"
        out.append(
            OwnComment(
                id=comment_id,
                fingerprints=tuple(fps),
                path=str(item.get("path") or ""),
                on_file=on_file,
                outdated=not on_file and item.get("line") is None,
                original_line=int(item.get("original_line") or item.get("line") or 0),
                replies=replies[comment_id],
                body=body,
                url=str(item.get("html_url") or ""),
                item=item,
            )
        )
    return out


class Retire(StrEnum):
    DELETE = "delete"
    NOTE = "note"  # kept for its replies: say the finding is gone
    UNNOTE = "unnote"  # the finding is back: drop that note


@dataclass(frozen=True)
class Change:
    comment: OwnComment
    action: Retire


def retirable(ours: Iterable[OwnComment], review: Review) -> list[OwnComment]:
    """The comments whose findings this review would have reported again, were they there:
    none if a reviewer did not finish, and none on a file left out for the budget."""
    finished = all(
        r.status in (ReviewerStatus.OK, ReviewerStatus.CACHED)
        or (r.status is ReviewerStatus.SKIPPED and r.sessions == 0)  # nothing for it to review
        for r in review.reviewers
    )
    if not finished:
        return []
    left_out = {u.path for u in review.unreviewed if u.reason == UnreviewedReason.BUDGET}
    return [c for c in ours if c.path not in left_out]


def plan_retirement(
    ours: Iterable[OwnComment], reported: set[str], reposted: set[str]
) -> list[Change]:
    """What to do with each of council's comments, given the findings reported now and
    those this run posted new comments for."""
    changes: list[Change] = []
    for comment in ours:
        gone = not any(fp in reported for fp in comment.fingerprints)
        superseded = comment.outdated and all(fp in reposted for fp in comment.fingerprints)
        noted = has_stale_note(comment.body)
        if (gone or superseded) and comment.replies == 0:
            changes.append(Change(comment, Retire.DELETE))
        elif gone and not noted:
            changes.append(Change(comment, Retire.NOTE))
        elif not gone and noted and not comment.outdated:
            changes.append(Change(comment, Retire.UNNOTE))
    return changes


@dataclass(frozen=True)
class Retired:
    deleted: int = 0
    edited: int = 0  # kept for their replies: the "no longer reported" note added or removed
    skipped: int = 0  # GitHub would not let us (403), or someone was first (404)


async def retire_stale(
    client: GitHubClient,
    pull: PullRequest,
    identity: Identity,
    changes: Sequence[Change],
) -> Retired:
    deleted = edited = skipped = 0
    for change in changes:
        comment = change.comment
        if not await identity.may_change(comment.item):
            continue
        path = f"{pull.path}/pulls/comments/{comment.id}"
        try:
            if change.action is Retire.DELETE:
                await client.call("DELETE", path)
                deleted += 1
                continue
            body = (
                with_stale_note(comment.body, pull.head_sha)
                if change.action is Retire.NOTE
                else without_stale_note(comment.body)
            )
            await client.call("PATCH", path, json={"body": body})
            edited += 1
        except GitHubError as exc:
            if exc.status not in (403, 404):
                raise
            skipped += 1
    return Retired(deleted, edited, skipped)
