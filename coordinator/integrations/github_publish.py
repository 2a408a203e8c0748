"""Post a council review on a pull request: idempotent, and never losing a finding.

One run makes at most one review (``event: COMMENT``, ``commit_id`` = the head
analysed) holding only findings not reported before, and creates or edits one
summary issue comment. "Reported before" means: a current (not outdated) inline
comment of ours carries the finding's fingerprint, or the last summary listed it
and no outdated comment of ours says it lost its line. So a re-run on the same
head posts nothing new, and a finding whose comment went stale after a push is
commented again where it now is.

Only comments written by a bot, or by the token's own user when ``GET /user``
knows it, count as ours: anyone can paste a marker into a comment.

If GitHub still answers 422 (it does not say which comment it could not place),
council asks GitHub for the PR's own hunks, moves the comments they do not hold
(or, when none stand out, every comment) into the body, and retries once; a
422 may also have left the review behind, so it first looks for this run's
marker. Every request body matches GitHub's published schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coordinator.diff.model import Diff
from coordinator.integrations.github import GitHubClient, GitHubError, error_message
from coordinator.integrations.github_event import PullRequest
from coordinator.integrations.github_review import (
    DiffLines,
    InlineComment,
    ReviewDraft,
    draft_review,
    fingerprints_in,
    run_id_in,
)
from coordinator.integrations.github_summary import (
    SUMMARY_MARKER,
    ListedFinding,
    SummaryLinks,
    SummaryState,
    render_summary,
)
from coordinator.review import Review

GITHUB_REJECTED = "GitHub could not place these on the diff"
_HEADING = re.compile(r"^\*\*\[(\w+)\] (.*)\*\*$")


@dataclass(frozen=True)
class Published:
    review_url: str | None
    summary_url: str | None
    inline: int  # comments in the review posted now
    in_body: int  # findings listed in its body
    already_reported: int
    moved_after_422: int


class _Identity:
    """Decides which comments are council's own (see the module docstring)."""

    def __init__(self, client: GitHubClient) -> None:
        self._client = client
        self._login: str | None = None
        self._asked = False

    async def owns(self, item: Mapping[str, Any]) -> bool:
        user = item.get("user") or {}
        if user.get("type") == "Bot":
            return True
        if not self._asked:
            self._asked = True
            response = await self._client.request("GET", "/user")
            if response.is_success:  # an Actions token answers 403 here: it is no user
                self._login = response.json().get("login")
        return self._login is not None and user.get("login") == self._login


@dataclass(frozen=True)
class _Existing:
    current: Mapping[str, str]  # fingerprint -> URL of a current comment of ours
    outdated: frozenset[str]
    outdated_titles: Mapping[str, ListedFinding]
    summary: Mapping[str, Any] | None
    state: SummaryState | None

    def reported(self) -> set[str]:
        listed = {f.id for f in self.state.findings} if self.state else set()
        return set(self.current) | (listed - self.outdated)


def _listed_from_comment(fp: str, comment: Mapping[str, Any]) -> ListedFinding:
    first = str(comment.get("body") or "").split("\n", 1)[0].strip()
    match = _HEADING.match(first)
    severity, title = (match.group(1).lower(), match.group(2)) if match else ("?", first[:120])
    line = comment.get("original_line") or comment.get("line") or 0
    return ListedFinding(fp, severity, str(comment.get("path") or ""), int(line), title)


async def _existing(client: GitHubClient, pull: PullRequest) -> _Existing:
    identity = _Identity(client)
    current: dict[str, str] = {}
    outdated: set[str] = set()
    titles: dict[str, ListedFinding] = {}
    for comment in await client.paginate(f"{pull.path}/pulls/{pull.number}/comments"):
        fps = fingerprints_in(str(comment.get("body") or ""))
        if not fps or not await identity.owns(comment):
            continue
        for fp in fps:
            if comment.get("line") is None:  # GitHub nulls the line of an outdated comment
                outdated.add(fp)
                titles.setdefault(fp, _listed_from_comment(fp, comment))
            else:
                current.setdefault(fp, str(comment.get("html_url") or ""))
    summary: Mapping[str, Any] | None = None
    for comment in await client.paginate(f"{pull.path}/issues/{pull.number}/comments"):
        if SUMMARY_MARKER in str(comment.get("body") or "") and await identity.owns(comment):
            summary = comment  # the newest one, if a hand or a race left several
    state = SummaryState.decode(str(summary.get("body") or "")) if summary else None
    return _Existing(current, frozenset(outdated - set(current)), titles, summary, state)


async def _post_review(
    client: GitHubClient, pull: PullRequest, draft: ReviewDraft, summary_url: str | None
) -> tuple[Mapping[str, Any], ReviewDraft, int]:
    path = f"{pull.path}/pulls/{pull.number}/reviews"
    response = await client.request("POST", path, json=draft.payload(summary_url))
    moved = 0
    if response.status_code == 422 and draft.comments:
        orphan = await _review_of_run(client, pull, draft.run_id)
        if orphan is not None:
            return orphan, draft, 0
        files = await client.paginate(f"{pull.path}/pulls/{pull.number}/files")
        github_lines = DiffLines.from_pull_files(files)
        unplaced: Sequence[InlineComment] = [
            c
            for c in draft.comments
            if not github_lines.in_one_hunk(
                c.placement.path, c.placement.start_line or c.placement.line, c.placement.line
            )
        ] or draft.comments
        moved = len(unplaced)
        draft = draft.moving_to_body(unplaced, GITHUB_REJECTED)
        response = await client.request("POST", path, json=draft.payload(summary_url))
    if not response.is_success:
        raise GitHubError(
            f"GitHub did not accept the review: HTTP {response.status_code}: "
            f"{error_message(response)}",
            status=response.status_code,
        )
    return response.json(), draft, moved


async def _review_of_run(
    client: GitHubClient, pull: PullRequest, run_id: str
) -> Mapping[str, Any] | None:
    for item in await client.paginate(f"{pull.path}/pulls/{pull.number}/reviews"):
        if isinstance(item, dict) and run_id_in(str(item.get("body") or "")) == run_id:
            found: Mapping[str, Any] = item
            return found
    return None


async def _comment_urls(
    client: GitHubClient, pull: PullRequest, review_id: object
) -> dict[str, str]:
    if not isinstance(review_id, int):
        return {}
    path = f"{pull.path}/pulls/{pull.number}/reviews/{review_id}/comments"
    urls: dict[str, str] = {}
    for comment in await client.paginate(path):
        for fp in fingerprints_in(str(comment.get("body") or "")):
            urls.setdefault(fp, str(comment.get("html_url") or ""))
    return urls


async def _upsert_summary(
    client: GitHubClient, pull: PullRequest, existing: Mapping[str, Any] | None, body: str
) -> str | None:
    if existing is not None:
        if existing.get("body") == body:
            return str(existing.get("html_url") or "") or None
        try:
            edited = await client.call(
                "PATCH", f"{pull.path}/issues/comments/{existing['id']}", json={"body": body}
            )
            return str(edited.get("html_url") or "") or None
        except GitHubError as exc:
            if exc.status not in (403, 404):  # deleted, or not ours to edit: post a new one
                raise
    created = await client.call(
        "POST", f"{pull.path}/issues/{pull.number}/comments", json={"body": body}
    )
    return str(created.get("html_url") or "") or None


async def publish_review(
    client: GitHubClient,
    pull: PullRequest,
    review: Review,
    diff: Diff,
    *,
    max_comments: int,
    run_id: str,
    server_url: str,
    run_url: str | None = None,
    secrets: Sequence[str] = (),
) -> Published:
    existing = await _existing(client, pull)
    reported = existing.reported()
    new = [f for f in review.findings if f.id not in reported]
    summary_url = str(existing.summary.get("html_url") or "") or None if existing.summary else None
    comment_urls = dict(existing.current)
    review_url: str | None = None
    inline = in_body = moved = 0
    if new:
        draft = draft_review(
            new,
            DiffLines.from_diff(diff),
            head=pull.head_sha,
            run_id=run_id,
            max_comments=max_comments,
            secrets=secrets,
        )
        posted, draft, moved = await _post_review(client, pull, draft, summary_url)
        review_url = str(posted.get("html_url") or "") or None
        inline, in_body = len(draft.comments), len(draft.in_body)
        if draft.comments:
            comment_urls.update(await _comment_urls(client, pull, posted.get("id")))
    current_ids = {f.id for f in review.findings}
    fixed = (
        [f for f in existing.state.findings if f.id not in current_ids] if existing.state else []
    )
    listed = {f.id for f in fixed}
    fixed += [
        f
        for fp, f in existing.outdated_titles.items()
        if fp not in current_ids and fp not in listed and fp not in existing.current
    ]
    links = SummaryLinks(
        server_url=server_url,
        repository=pull.base_repo,
        head=pull.head_sha,
        comment_urls=comment_urls,
        review_url=review_url,
        run_url=run_url,
    )
    body = render_summary(review, links, fixed=fixed, secrets=secrets)
    summary_url = await _upsert_summary(client, pull, existing.summary, body)
    return Published(
        review_url=review_url,
        summary_url=summary_url,
        inline=inline,
        in_body=in_body,
        already_reported=len(review.findings) - len(new),
        moved_after_422=moved,
    )
