"""Re-runs on a PR: stale comments retired, file-level comments, against the fake GitHub API."""

from __future__ import annotations

import re
from typing import Any

import pytest

from coordinator.findings import Anchor, ReviewFinding, Unreviewed, UnreviewedReason
from coordinator.integrations.github import GitHubError
from coordinator.integrations.github_publish import GITHUB_REJECTED_FILE
from coordinator.integrations.github_review import (
    MAX_FILE_COMMENTS,
    OVER_FILE_LIMIT,
    STALE_MARKER,
    fingerprint_marker,
    fingerprints_in,
    has_stale_note,
    with_stale_note,
    without_stale_note,
)
from coordinator.integrations.github_threads import Retired
from coordinator.review import ReviewerStatus
from tests.fakes.github_api import FakeGitHub
from tests.test_github_publish import (  # noqa: F401 - fixtures
    NEW,
    PR,
    finding,
    gh,
    pr,
    review_of,
)

A, B, C = "a" * 16, "b" * 16, "c" * 16
PERSONAL = "ghp_personal_token"


def comment_of(gh: FakeGitHub, fid: str) -> dict[str, object]:
    (found,) = [c for c in gh.review_comments if fingerprint_marker(fid) in str(c["body"])]
    return found


def fingerprints(comments: list[dict[str, object]]) -> list[str]:
    return [fp for c in comments for fp in fingerprints_in(str(c["body"]))]


def deletes(gh: FakeGitHub) -> int:
    return len(gh.calls_to("DELETE", r"/pulls/comments/\d+$"))


# -------------------------------------------------------------------- stale comments


def test_a_finding_gone_after_a_push_has_its_comment_deleted_once(pr: PR, gh: FakeGitHub) -> None:
    pr.publish(review_of([finding(A, 5), finding(B, 30, rank=2)]))
    pr.advance(NEW.replace("line 2\n", "new two\n"))
    result = pr.publish(review_of([finding(A, 5)]), run_id="run2")

    assert gh.violations == []
    assert fingerprints(gh.review_comments) == [A]
    assert fingerprints(gh.deleted_comments) == [B]
    assert result.retired == Retired(deleted=1)
    assert len(gh.reviews) == 1  # nothing new to post
    assert "~~Problem " + B + "~~" in gh.issue_comments[0]["body"]

    again = pr.publish(review_of([finding(A, 5)]), run_id="run3")
    assert again.retired == Retired()
    assert deletes(gh) == 1


def test_a_gone_finding_whose_comment_has_replies_is_kept_and_says_so(
    pr: PR, gh: FakeGitHub
) -> None:
    pr.publish(review_of([finding(A, 5), finding(B, 30, rank=2)]))
    original = str(comment_of(gh, B)["body"])
    gh.reply(int(str(comment_of(gh, B)["id"])), login="octo-dev", body="Is it, though?")
    pr.advance(NEW.replace("line 2\n", "new two\n"))

    result = pr.publish(review_of([finding(A, 5)]), run_id="run2")
    assert gh.violations == []
    assert gh.deleted_comments == []
    kept = str(comment_of(gh, B)["body"])
    assert kept.startswith(original)
    assert kept.endswith(f"_council no longer reports this as of `{pr.head[:7]}`._ {STALE_MARKER}")
    assert result.retired == Retired(edited=1)

    # Said once: later runs leave it alone.
    pr.publish(review_of([finding(A, 5)]), run_id="run3")
    edits = gh.calls_to("PATCH", r"/pulls/comments/\d+$")
    assert len(edits) == 1

    # The finding comes back: the note goes, and its thread is still the place for it.
    back = pr.publish(review_of([finding(A, 5), finding(B, 30, rank=2)]), run_id="run4")
    assert str(comment_of(gh, B)["body"]) == original
    assert back.inline == 0
    assert len(gh.calls_to("PATCH", r"/pulls/comments/\d+$")) == 2


def test_comments_council_did_not_write_are_never_touched(pr: PR, gh: FakeGitHub) -> None:
    pasted = f"Same as before?\n{fingerprint_marker(C)}"
    by_person = gh.add_comment(7, login="mallory", body=pasted, path="src/app.py", line=5)
    by_other_bot = gh.add_comment(
        7, login="other-bot[bot]", user_type="Bot", body=pasted, path="src/app.py", line=6
    )
    pr.publish(review_of([finding(A, 5)]))
    # A person's reply quoting a marker is no comment of council's either.
    gh.reply(int(str(comment_of(gh, A)["id"])), login="mallory", body=pasted)
    pr.advance(NEW.replace("line 2\n", "new two\n"))

    result = pr.publish(review_of([finding(B, 30)]), run_id="run2")  # creates a review: who we are
    assert gh.violations == []
    assert result.retired == Retired(edited=1)  # A's comment, which has the reply
    assert gh.deleted_comments == []
    bodies = {c["id"]: c["body"] for c in gh.review_comments}
    assert bodies[by_person["id"]] == pasted
    assert bodies[by_other_bot["id"]] == pasted


def test_a_personal_token_changes_only_its_own_users_comments(pr: PR, gh: FakeGitHub) -> None:
    pr.publish(review_of([finding(B, 30)]))  # by the Actions bot
    pr.publish(review_of([finding(A, 5)]), token=PERSONAL, run_id="run2")
    assert fingerprints(gh.review_comments) == [B, A]
    assert deletes(gh) == 0  # B is gone, but it is the bot's comment, not octo-dev's

    pr.publish(review_of([]), token=PERSONAL, run_id="run3")
    assert fingerprints(gh.deleted_comments) == [A]
    assert fingerprints(gh.review_comments) == [B]


def test_stale_comments_and_their_replies_are_found_across_pages(pr: PR, gh: FakeGitHub) -> None:
    pr.publish(review_of([finding(A, 5), finding(B, 30, rank=2)]))
    for n in range(250):
        gh.add_comment(7, login="someone", body=f"chatter {n}", path="src/app.py", line=6)
    gh.reply(int(str(comment_of(gh, B)["id"])), login="octo-dev", body="On the last page.")
    pr.advance(NEW.replace("line 2\n", "new two\n"))

    result = pr.publish(review_of([]), run_id="run2")
    pages = gh.calls_to("GET", r"/pulls/7/comments$")
    assert [c.query.get("page", ["1"]) for c in pages[-3:]] == [["1"], ["2"], ["3"]]
    assert all(c.query["per_page"] == ["100"] for c in pages)
    assert fingerprints(gh.deleted_comments) == [A]
    assert result.retired == Retired(deleted=1, edited=1)


def test_nothing_is_retired_when_the_review_cannot_be_posted(pr: PR, gh: FakeGitHub) -> None:
    pr.publish(review_of([finding(B, 30)]))
    pr.advance(NEW.replace("line 2\n", "new two\n"))
    gh.fail_next("POST", r"/pulls/7/reviews$", 502)
    with pytest.raises(GitHubError):
        pr.publish(review_of([finding(A, 5)]), run_id="run2")
    assert deletes(gh) == 0
    assert fingerprints(gh.review_comments) == [B]


def test_a_review_whose_reviewers_did_not_all_finish_retires_nothing(
    pr: PR, gh: FakeGitHub
) -> None:
    pr.publish(review_of([finding(A, 5), finding(B, 30, rank=2)]))
    pr.advance(NEW.replace("line 2\n", "new two\n"))
    partial = review_of([finding(A, 5)])
    failed = partial.reviewers[0].model_copy(update={"status": ReviewerStatus.TIMEOUT})
    partial = partial.model_copy(update={"reviewers": [*partial.reviewers, failed]})
    result = pr.publish(partial, run_id="run2")
    assert result.retired == Retired()
    assert fingerprints(gh.review_comments) == [A, B]


def test_a_file_left_out_for_the_budget_keeps_its_comments(pr: PR, gh: FakeGitHub) -> None:
    pr.publish(review_of([finding(A, 5), finding(B, 30, rank=2)]))
    pr.advance(NEW.replace("line 2\n", "new two\n"))
    partial = review_of([]).model_copy(
        update={
            "unreviewed": [
                Unreviewed(path="src/app.py", reason=UnreviewedReason.BUDGET),
                Unreviewed(path="logo.png", reason=UnreviewedReason.BINARY),
            ]
        }
    )
    assert pr.publish(partial, run_id="run2").retired == Retired()
    assert fingerprints(gh.review_comments) == [A, B]


def test_a_deleted_comment_someone_removed_first_is_skipped(pr: PR, gh: FakeGitHub) -> None:
    pr.publish(review_of([finding(A, 5), finding(B, 30, rank=2)]))
    pr.advance(NEW.replace("line 2\n", "new two\n"))
    gh.fail_next("DELETE", r"/pulls/comments/\d+$", 404, body={"message": "Not Found"})
    result = pr.publish(review_of([]), run_id="run2")
    assert result.retired == Retired(deleted=1, skipped=1)


# -------------------------------------------------------------------- file comments


def file_finding(fid: str, line: int, **options: Any) -> ReviewFinding:
    return finding(fid, line, anchor=Anchor.FILE, **options)


def test_findings_anchored_to_a_file_get_a_file_comment_once(pr: PR, gh: FakeGitHub) -> None:
    review = review_of([finding(A, 5), file_finding(C, 20, suggestion="x = 1", rank=2)])
    result = pr.publish(review)

    assert gh.violations == []
    (post,) = gh.calls_to("POST", r"/pulls/7/comments$")
    assert post.status == 201
    assert post.body["subject_type"] == "file"
    assert (post.body["commit_id"], post.body["path"]) == (pr.head, "src/app.py")
    assert set(post.body) == {"body", "commit_id", "path", "subject_type"}
    on_file = comment_of(gh, C)
    assert (on_file["subject_type"], on_file["line"]) == ("file", None)
    text = str(on_file["body"])
    assert "At `src/app.py:20`." in text
    assert "Suggested replacement for lines 20-20 (not on the diff):" in text
    assert "```suggestion" not in text
    assert (result.inline, result.file_comments, result.in_body) == (1, 1, 0)
    (with_body,) = [r for r in gh.reviews if r["body"]]
    assert fingerprint_marker(C) not in with_body["body"]
    assert "1 as comments on whole files." in with_body["body"]
    assert f"]({on_file['html_url']})" in gh.issue_comments[0]["body"]  # the summary links it

    # Same head again, then a push that outdates the line comments: no second file comment.
    pr.publish(review, run_id="run2")
    pr.advance(NEW.replace("line 2\n", "new two\n"), outdated=("src/app.py",))
    again = pr.publish(review, run_id="run3")
    assert len(gh.calls_to("POST", r"/pulls/7/comments$")) == 1
    assert again.file_comments == 0
    assert again.already_reported == 1  # C; A's comment lost its line and was posted again
    assert fingerprints(gh.review_comments) == [C, A]


def test_file_comments_are_capped_and_the_rest_listed_in_the_review_body(
    pr: PR, gh: FakeGitHub
) -> None:
    many = [file_finding(f"{n:016x}", 10 + n, rank=n) for n in range(1, MAX_FILE_COMMENTS + 3)]
    result = pr.publish(review_of(many))
    assert gh.violations == []
    assert len(gh.calls_to("POST", r"/pulls/7/comments$")) == MAX_FILE_COMMENTS
    assert (result.file_comments, result.in_body) == (MAX_FILE_COMMENTS, 2)
    (with_body,) = [r for r in gh.reviews if r["body"]]
    assert f"#### {OVER_FILE_LIMIT} (2)" in with_body["body"]
    assert fingerprints_in(with_body["body"]) == [f"{n:016x}" for n in (11, 12)]


def test_only_file_comments_new_means_no_review_besides_them(pr: PR, gh: FakeGitHub) -> None:
    result = pr.publish(review_of([file_finding(C, 20)]))
    assert result.review_url is None
    assert result.file_comments == 1
    assert [r["body"] for r in gh.reviews] == [""]  # the file comment's own review, as on GitHub


def test_a_file_comment_github_refuses_goes_to_the_review_body(pr: PR, gh: FakeGitHub) -> None:
    gh.pulls[7].patch = ""  # GitHub's diff of the PR does not hold src/app.py
    result = pr.publish(review_of([file_finding(C, 20)]))
    assert gh.violations == []
    assert [c.status for c in gh.calls_to("POST", r"/pulls/7/comments$")] == [422]
    assert (result.file_comments, result.in_body) == (0, 1)
    (posted,) = gh.reviews
    assert f"#### {GITHUB_REJECTED_FILE} (1)" in posted["body"]
    assert fingerprint_marker(C) in posted["body"]
    assert "Problem " + C in gh.issue_comments[0]["body"]

    # Listed once: the next run on this head does not try again.
    pr.publish(review_of([file_finding(C, 20)]), run_id="run2")
    assert len(gh.calls_to("POST", r"/pulls/7/comments$")) == 1
    assert len(gh.reviews) == 1


def test_a_file_comment_whose_finding_is_gone_is_deleted(pr: PR, gh: FakeGitHub) -> None:
    pr.publish(review_of([file_finding(C, 20)]))
    pr.advance(NEW.replace("line 2\n", "new two\n"))
    result = pr.publish(review_of([]), run_id="run2")
    assert result.retired == Retired(deleted=1)
    assert [c["subject_type"] for c in gh.deleted_comments] == ["file"]
    assert gh.review_comments == []
    assert re.search(r"~~Problem c+~~", gh.issue_comments[0]["body"])


def test_the_stale_note_is_recognised_only_where_council_puts_it() -> None:
    body = f"**[HIGH] x**\n\n```\n{STALE_MARKER}\n```\n{fingerprint_marker(A)}"
    assert not has_stale_note(body)
    noted = with_stale_note(body, "0123456789abcdef")
    assert has_stale_note(noted)
    assert noted.endswith(f"as of `0123456`._ {STALE_MARKER}")
    assert with_stale_note(noted, "fedcba9876543210").count("no longer reports") == 1
    assert without_stale_note(noted) == body
