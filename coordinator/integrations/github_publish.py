"""Post a council review on a pull request: idempotent, and never losing a finding.

One run makes at most one review (``event: COMMENT``, ``commit_id`` = the head
analysed) holding only findings not reported before, up to ``MAX_FILE_COMMENTS``
file comments for new findings anchored to a file but to no line of its diff,
and creates or edits one summary issue comment. "Reported before" means: a
current (not outdated) inline comment of ours, or a file comment of ours on the
same path, carries the finding's fingerprint, or the last summary listed it and
no outdated comment of ours says it lost its line. So a re-run on the same head
posts nothing new, and a finding whose comment went stale after a push is
commented again where it now is. Then council's comments that went stale are
retired (``github_threads``: deleted, or kept for their replies).

Which comments are ours is decided by ``github_threads.Identity``: anyone can
paste a marker into a comment.

File comments are posted before the review, so one GitHub refuses (422) is
listed in the review body instead.

If GitHub still answers 422 (it does not say which comment it could not place),
council asks GitHub for the PR's own hunks, moves the comments they do not hold
(or, when none stand out, every comment) into the body, and retries once; a
422 may also have left the review behind, so it first looks for this run's
marker. Every request body matches GitHub's published schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coordinator.diff.model import Diff
from coordinator.findings import ReviewFinding
from coordinator.integrations.github import GitHubClient, GitHubError, error_message
from coordinator.integrations.github_event import PullRequest
from coordinator.integrations.github_review import (
    MAX_FILE_COMMENTS,
    DiffLines,
    FileComment,
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
from coordinator.integrations.github_threads import (
    Identity,
    OwnComment,
    Retired,
    own_comments,
    plan_retirement,
    retirable,
    retire_stale,
)
from coordinator.review import Review

GITHUB_REJECTED = "GitHub could not place these on the diff"
GITHUB_REJECTED_FILE = "GitHub did not take these as file comments"
_HEADING = re.compile(r"^\*\*\[(\w+)\] (.*)\*\*$")


@dataclass(frozen=True)
class Published:
    review_url: str | None
    summary_url: str | None
    inline: int  # comments in the review posted now
    in_body: int  # findings listed in its body
    already_reported: int
    moved_after_422: int
    file_comments: int = 0  # file-level comments posted now
    retired: Retired = field(default_factory=Retired)


@dataclass(frozen=True)
class _Existing:
    ours: tuple[OwnComment, ...]
    summary: Mapping[str, Any] | None
    state: SummaryState | None

    def current(self, findings: Sequence[ReviewFinding]) -> dict[str, str]:
        """Fingerprint -> URL of a comment of ours that still shows the finding."""
        paths = {f.id: f.path for f in findings}
        urls: dict[str, str] = {}
        for comment in self.ours:
            if comment.outdated:
                continue
            for fp in comment.fingerprints:
                if not comment.on_file or paths.get(fp, comment.path) == comment.path:
                    urls.setdefault(fp, comment.url)
        return urls

    def outdated(self, current: Mapping[str, str]) -> dict[str, ListedFinding]:
        """Findings whose only comments of ours lost their line, as those comments show them."""
        titles: dict[str, ListedFinding] = {}
        for comment in self.ours:
            for fp in comment.fingerprints if comment.outdated else ():
                if fp not in current:
                    titles.setdefault(fp, _listed_from_comment(fp, comment))
        return titles

    def reported(self, findings: Sequence[ReviewFinding]) -> set[str]:
        current = self.current(findings)
        listed = {f.id for f in self.state.findings} if self.state else set()
        return set(current) | (listed - set(self.outdated(current)))


def _listed_from_comment(fp: str, comment: OwnComment) -> ListedFinding:
    first = comment.body.split("\n", 1)[0].strip()
    match = _HEADING.match(first)
    severity, title = (match.group(1).lower(), match.group(2)) if match else ("?", first[:120])
    return ListedFinding(fp, severity, comment.path, comment.original_line, title)


async def _existing(client: GitHubClient, pull: PullRequest, identity: Identity) -> _Existing:
    ours = await own_comments(client, pull, identity)
    summary: Mapping[str, Any] | None = None
    for comment in await client.paginate(f"{pull.path}/issues/{pull.number}/comments"):
        if SUMMARY_MARKER in str(comment.get("body") or "") and await identity.owns(comment):
            summary = comment  # the newest one, if a hand or a race left several
    state = SummaryState.decode(str(summary.get("body") or "")) if summary else None
    return _Existing(tuple(ours), summary, state)


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


async def _post_file_comments(
    client: GitHubClient, pull: PullRequest, draft: ReviewDraft, identity: Identity
) -> tuple[ReviewDraft, dict[str, str]]:
    """Post the draft's file comments; those GitHub refuses (422) move to the review body."""
    path = f"{pull.path}/pulls/{pull.number}/comments"
    refused: list[FileComment] = []
    urls: dict[str, str] = {}
    for comment in draft.file_comments:
        response = await client.request("POST", path, json=comment.payload(draft.head))
        if response.status_code == 422:
            refused.append(comment)
            continue
        if not response.is_success:
            raise GitHubError(
                f"GitHub did not accept a file comment on {comment.finding.path}: "
                f"HTTP {response.status_code}: {error_message(response)}",
                status=response.status_code,
            )
        created = response.json()
        identity.created(created)
        urls[comment.finding.id] = str(created.get("html_url") or "")
    return draft.moving_files_to_body(refused, GITHUB_REJECTED_FILE), urls


async def _upsert_summary(
    client: GitHubClient,
    pull: PullRequest,
    existing: Mapping[str, Any] | None,
    body: str,
    identity: Identity,
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
    identity.created(created)
    return str(created.get("html_url") or "") or None


@dataclass(frozen=True)
class _Posted:
    review_url: str | None
    draft: ReviewDraft
    moved_after_422: int
    comment_urls: Mapping[str, str]  # finding id -> comment posted now


async def _post_new(
    client: GitHubClient,
    pull: PullRequest,
    draft: ReviewDraft,
    summary_url: str | None,
    identity: Identity,
) -> _Posted:
    """File comments first, then the review with everything else (if anything is left)."""
    draft, urls = await _post_file_comments(client, pull, draft, identity)
    if not draft.needs_review:
        return _Posted(None, draft, 0, urls)
    posted, draft, moved = await _post_review(client, pull, draft, summary_url)
    identity.created(posted)
    if draft.comments:
        urls.update(await _comment_urls(client, pull, posted.get("id")))
    return _Posted(str(posted.get("html_url") or "") or None, draft, moved, urls)


def _no_longer_found(
    existing: _Existing, review: Review, current: Mapping[str, str]
) -> list[ListedFinding]:
    current_ids = {f.id for f in review.findings}
    fixed = (
        [f for f in existing.state.findings if f.id not in current_ids] if existing.state else []
    )
    listed = {f.id for f in fixed}
    fixed += [
        f
        for fp, f in existing.outdated(current).items()
        if fp not in current_ids and fp not in listed
    ]
    return fixed


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
    max_file_comments: int = MAX_FILE_COMMENTS,
) -> Published:
    identity = Identity(client)
    existing = await _existing(client, pull, identity)
    current = existing.current(review.findings)
    reported = existing.reported(review.findings)
    new = [f for f in review.findings if f.id not in reported]
    summary_url = str(existing.summary.get("html_url") or "") or None if existing.summary else None
    posted = _Posted(None, ReviewDraft((), (), pull.head_sha, run_id), 0, {})
    if new:
        draft = draft_review(
            new,
            DiffLines.from_diff(diff),
            head=pull.head_sha,
            run_id=run_id,
            max_comments=max_comments,
            max_file_comments=max_file_comments,
            secrets=secrets,
        )
        posted = await _post_new(client, pull, draft, summary_url, identity)
    links = SummaryLinks(
        server_url=server_url,
        repository=pull.base_repo,
        head=pull.head_sha,
        comment_urls={**current, **posted.comment_urls},
        review_url=posted.review_url,
        run_url=run_url,
    )
    fixed = _no_longer_found(existing, review, current)
    body = render_summary(review, links, fixed=fixed, secrets=secrets)
    summary_url = await _upsert_summary(client, pull, existing.summary, body, identity)
    changes = plan_retirement(
        retirable(existing.ours, review),
        {f.id for f in review.findings},
        set(posted.comment_urls),
    )
    retired = await retire_stale(client, pull, identity, changes)
    return Published(
        review_url=posted.review_url,
        summary_url=summary_url,
        inline=len(posted.draft.comments),
        in_body=len(posted.draft.in_body),
        already_reported=len(review.findings) - len(new),
        moved_after_422=posted.moved_after_422,
        file_comments=len(posted.draft.file_comments),
        retired=retired,
    )
