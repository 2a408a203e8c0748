"""The review council posts on a pull request, built from a Review and its diff. Pure.

- **Inline comments** go only where GitHub accepts them: on new-side lines inside
  a hunk of the PR diff (added or context), a multi-line comment only when its
  whole range sits in one hunk. A ```suggestion block is attached only when the
  comment covers exactly the lines the suggestion replaces; otherwise the code
  is shown as a plain block.
- **File comments** (``subject_type: file``) take findings anchored ``file`` —
  in a changed file but on no line of its diff — up to ``MAX_FILE_COMMENTS``
  per run; they go through the single-comment endpoint, not the review.
  Everything else goes into the review body.
- Every comment ends with a hidden **fingerprint marker** (the finding's stable
  id), so a re-run recognises what it already said.
- The summary issue comment is built by ``github_summary``.
- All reviewer text passes through ``sanitize`` and every body stays below
  GitHub's 65,536-character limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from coordinator.diff.model import Diff, FileStatus
from coordinator.findings import Anchor, ReviewFinding, Severity
from coordinator.integrations.sanitize import clip, safe_line, safe_markdown, scrub
from coordinator.reporters.markdown import fence, inline_code

INLINE_LIMIT = 8_000  # an inline comment longer than this is unreadable anyway
BODY_LIMIT = 60_000  # GitHub rejects bodies over 65,536 characters
TITLE_LIMIT = 200
# reviewdog's cap: each file comment is a request of its own, and GitHub's secondary rate
# limits count content-creating requests.
MAX_FILE_COMMENTS = 10

_FP = re.compile(r"<!-- council:fp=([0-9a-f]{6,64}) -->")
_RUN = re.compile(r"<!-- council:review head=\S+ run=(\S+) -->")
STALE_MARKER = "<!-- council:stale -->"
_STALE_NOTE = re.compile(r"(?:\r?\n)*[^\n]*" + re.escape(STALE_MARKER) + r"\s*\Z")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_LABEL = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "INFO",
}


def fingerprint_marker(finding_id: str) -> str:
    return f"<!-- council:fp={finding_id} -->"


def review_marker(head: str, run_id: str) -> str:
    return f"<!-- council:review head={head} run={run_id} -->"


def fingerprints_in(body: str) -> list[str]:
    return _FP.findall(body)


def run_id_in(body: str) -> str | None:
    match = _RUN.search(body)
    return match.group(1) if match else None


def with_stale_note(body: str, head: str) -> str:
    """A comment kept for its replies, saying from which head council stopped reporting it."""
    note = f"_council no longer reports this as of `{head[:7]}`._ {STALE_MARKER}"
    return f"{without_stale_note(body)}\n\n{note}"


def without_stale_note(body: str) -> str:
    return _STALE_NOTE.sub("", body)


def has_stale_note(body: str) -> bool:
    return _STALE_NOTE.search(body) is not None  # only as the last line: text may quote it


# -------------------------------------------------------------------- commentable lines


class DiffLines:
    """New-side lines of the PR diff that take comments: each hunk's range, and line texts."""

    def __init__(
        self,
        hunks: Mapping[str, Sequence[tuple[int, int]]],
        texts: Mapping[str, Mapping[int, str]] | None = None,
    ) -> None:
        self._hunks = hunks
        self._texts = texts or {}

    @classmethod
    def from_diff(cls, diff: Diff) -> DiffLines:
        hunks: dict[str, list[tuple[int, int]]] = {}
        texts: dict[str, dict[int, str]] = {}
        for file in diff.files:
            if file.status is FileStatus.DELETED or file.is_binary:
                continue  # a later non-deleted entry for the same path wins (delete + add pairs)
            hunks[file.path] = [(h.new_start, h.new_end) for h in file.hunks if h.new_lines > 0]
            texts[file.path] = {
                ln.new_lineno: ln.text
                for h in file.hunks
                for ln in h.lines
                if ln.new_lineno is not None
            }
        return cls(hunks, texts)

    @classmethod
    def from_pull_files(cls, files: Iterable[Mapping[str, Any]]) -> DiffLines:
        """From ``GET /pulls/{n}/files``: GitHub's own hunks (a file without ``patch`` takes none)."""
        hunks: dict[str, list[tuple[int, int]]] = {}
        for item in files:
            name, patch = item.get("filename"), item.get("patch")
            if not isinstance(name, str) or item.get("status") == "removed":
                continue
            ranges = hunks.setdefault(name, [])
            for line in patch.splitlines() if isinstance(patch, str) else ():
                match = _HUNK.match(line)
                if match:
                    start, count = int(match.group(1)), int(match.group(2) or "1")
                    if count > 0:
                        ranges.append((start, start + count - 1))
        return cls(hunks)

    def has_file(self, path: str) -> bool:
        """``path`` is a file of the diff that GitHub shows (not deleted, not binary)."""
        return path in self._hunks

    def in_one_hunk(self, path: str, first: int, last: int) -> bool:
        return any(start <= first and last <= end for start, end in self._hunks.get(path, ()))

    def text(self, path: str, line: int) -> str | None:
        return self._texts.get(path, {}).get(line)


@dataclass(frozen=True)
class Placement:
    path: str
    start_line: int | None  # set for multi-line comments
    line: int
    exact: bool  # covers the finding's whole range: a suggestion there applies as written


def place(finding: ReviewFinding, lines: DiffLines) -> Placement | None:
    first, last = finding.line, finding.last_line
    if lines.in_one_hunk(finding.path, first, last):
        return Placement(finding.path, first if last > first else None, last, exact=True)
    # The range leaves its hunk: comment on its first line that GitHub accepts.
    for n in range(first, min(last, first + 200) + 1):
        if lines.in_one_hunk(finding.path, n, n):
            return Placement(finding.path, None, n, exact=False)
    return None


# -------------------------------------------------------------------- comment text


def _heading(finding: ReviewFinding, secrets: Sequence[str]) -> str:
    title = clip(safe_line(finding.title, secrets), TITLE_LIMIT)
    return f"**[{_LABEL[finding.severity]}] {title}**"


def _meta(finding: ReviewFinding, secrets: Sequence[str]) -> str:
    reviewers = ", ".join(finding.reviewers)
    return (
        f"_council · {safe_line(finding.category, secrets)} · confidence "
        f"{finding.confidence:.2f} · found by {safe_line(reviewers, secrets)} · "
        f"`{finding.id}`_"
    )


def _balanced(markdown: str) -> str:
    """Close a code fence that clipping left open, so it cannot swallow what follows."""
    opens = _FENCE_LINE.findall(markdown)
    return markdown + "\n" + opens[-1] if len(opens) % 2 else markdown


def _restore_indent(suggestion: str, original_first_line: str | None) -> str:
    # Findings arrive with surrounding whitespace stripped, which takes the first line's
    # indentation with it; the line being replaced tells what it was.
    if original_first_line is None or suggestion[:1] in (" ", "\t") or not suggestion:
        return suggestion
    indent = original_first_line[: len(original_first_line) - len(original_first_line.lstrip())]
    return indent + suggestion


def _suggestion_block(
    finding: ReviewFinding, placement: Placement | None, lines: DiffLines, secrets: Sequence[str]
) -> list[str]:
    code = finding.suggestion
    if code is None:
        return []
    if scrub(code, secrets) != code:
        return ["_A suggested change was withheld: it contained a secret._"]
    if placement is not None and placement.exact:
        restored = _restore_indent(code, lines.text(finding.path, finding.line))
        # An empty block deletes the lines; fence() would leave one blank line instead.
        return ["```suggestion\n```" if restored == "" else fence(restored, "suggestion")]
    span = f"{finding.line}-{finding.last_line}"
    why = "it reaches outside the diff" if placement is not None else "not on the diff"
    return [f"Suggested replacement for lines {span} ({why}):", fence(code)]


def _comment_body(
    finding: ReviewFinding,
    placement: Placement | None,
    lines: DiffLines,
    secrets: Sequence[str],
) -> str:
    parts = [_heading(finding, secrets), ""]
    if placement is None:  # a file comment: say which lines, GitHub shows none
        parts += [f"At {inline_code(scrub(location(finding), secrets))}.", ""]
    if finding.body:
        parts += [_balanced(clip(safe_markdown(finding.body, secrets), INLINE_LIMIT // 2)), ""]
    suggestion = _suggestion_block(finding, placement, lines, secrets)
    if suggestion and sum(len(s) for s in suggestion) > INLINE_LIMIT // 2:
        suggestion = ["_The suggested change is too long to show here._"]
    if suggestion:
        parts += [*suggestion, ""]
    parts += [_meta(finding, secrets), fingerprint_marker(finding.id)]
    return "\n".join(parts)


def inline_body(
    finding: ReviewFinding, placement: Placement, lines: DiffLines, secrets: Sequence[str]
) -> str:
    return _comment_body(finding, placement, lines, secrets)


def file_comment_body(finding: ReviewFinding, secrets: Sequence[str]) -> str:
    return _comment_body(finding, None, DiffLines({}), secrets)


def location(finding: ReviewFinding) -> str:
    end = finding.last_line
    return f"{finding.path}:{finding.line}" + (f"-{end}" if end != finding.line else "")


def listed_finding(finding: ReviewFinding, secrets: Sequence[str], *, detail: bool) -> str:
    """One finding as a list item of a review body (with its text) or of the summary."""
    where = inline_code(scrub(location(finding), secrets))
    item = f"- {_heading(finding, secrets)} {where}"
    if detail and finding.body:
        body = clip(" ".join(safe_markdown(finding.body, secrets).split()), 600)
        item += f"\n  {_balanced(body)}"
    return item + f" {fingerprint_marker(finding.id)}"


# -------------------------------------------------------------------- the review


@dataclass(frozen=True)
class InlineComment:
    finding: ReviewFinding
    placement: Placement
    body: str

    def payload(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "path": self.placement.path,
            "line": self.placement.line,
            "side": "RIGHT",
            "body": self.body,
        }
        if self.placement.start_line is not None:
            item.update(start_line=self.placement.start_line, start_side="RIGHT")
        return item


@dataclass(frozen=True)
class FileComment:
    """A comment on a whole file: the single-comment endpoint's ``subject_type: file``."""

    finding: ReviewFinding
    body: str

    def payload(self, head: str) -> dict[str, Any]:
        return {
            "body": self.body,
            "commit_id": head,
            "path": self.finding.path,
            "subject_type": "file",
        }


@dataclass(frozen=True)
class ReviewDraft:
    """One review: inline comments, and findings listed in the body with the reason why.

    ``file_comments`` are posted one by one before the review; the review only counts them.
    """

    comments: tuple[InlineComment, ...]
    in_body: tuple[tuple[ReviewFinding, str], ...]
    head: str
    run_id: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    file_comments: tuple[FileComment, ...] = ()

    @property
    def findings(self) -> list[ReviewFinding]:
        return (
            [c.finding for c in self.comments]
            + [c.finding for c in self.file_comments]
            + [f for f, _ in self.in_body]
        )

    @property
    def needs_review(self) -> bool:
        """File comments stand alone: a review is posted only for what it holds itself."""
        return bool(self.comments or self.in_body)

    def moving_to_body(self, moved: Iterable[InlineComment], reason: str) -> ReviewDraft:
        gone = {id(c) for c in moved}
        return replace(
            self,
            comments=tuple(c for c in self.comments if id(c) not in gone),
            in_body=self.in_body
            + tuple((c.finding, reason) for c in self.comments if id(c) in gone),
        )

    def moving_files_to_body(self, moved: Iterable[FileComment], reason: str) -> ReviewDraft:
        gone = {id(c) for c in moved}
        return replace(
            self,
            file_comments=tuple(c for c in self.file_comments if id(c) not in gone),
            in_body=self.in_body
            + tuple((c.finding, reason) for c in self.file_comments if id(c) in gone),
        )

    def body(self, summary_url: str | None = None) -> str:
        count = len(self.findings)
        lines = [
            review_marker(self.head, self.run_id),
            f"### council: {count} new finding{'s' if count != 1 else ''} on `{self.head[:12]}`",
            "",
        ]
        if self.comments:
            lines.append(f"{len(self.comments)} as comments on the diff.")
        if self.file_comments:
            lines.append(f"{len(self.file_comments)} as comments on whole files.")
        if summary_url:
            lines.append(f"The [summary comment]({summary_url}) shows the whole review.")
        by_reason: dict[str, list[ReviewFinding]] = {}
        for finding, reason in self.in_body:
            by_reason.setdefault(reason, []).append(finding)
        for reason, group in by_reason.items():
            lines += ["", f"#### {reason} ({len(group)})", ""]
            lines += [listed_finding(f, self.secrets, detail=True) for f in group]
        return fit_lines(lines, BODY_LIMIT, "the summary comment lists every finding")

    def payload(self, summary_url: str | None = None) -> dict[str, Any]:
        return {
            "commit_id": self.head,
            "event": "COMMENT",  # never APPROVE or REQUEST_CHANGES: the reviewers advise
            "body": self.body(summary_url),
            "comments": [c.payload() for c in self.comments],
        }


OFF_DIFF = "Not on a line of the diff"
OVER_LIMIT = "Over the inline comment limit"
OVER_FILE_LIMIT = f"Not on a line of the diff, over the limit of {MAX_FILE_COMMENTS} file comments"


def takes_file_comment(finding: ReviewFinding, lines: DiffLines) -> bool:
    """Anchored in a file GitHub shows in the PR, on no line of its diff."""
    return finding.anchor is Anchor.FILE and lines.has_file(finding.path)


def draft_review(
    findings: Sequence[ReviewFinding],
    lines: DiffLines,
    *,
    head: str,
    run_id: str,
    max_comments: int,
    max_file_comments: int = MAX_FILE_COMMENTS,
    secrets: Sequence[str] = (),
) -> ReviewDraft:
    """Place ``findings`` (in rank order): inline where GitHub takes them, on the file when
    anchored to it, else in the body."""
    comments: list[InlineComment] = []
    file_comments: list[FileComment] = []
    in_body: list[tuple[ReviewFinding, str]] = []
    for finding in findings:
        placement = place(finding, lines)
        if placement is None and takes_file_comment(finding, lines):
            if len(file_comments) >= max_file_comments:
                in_body.append((finding, OVER_FILE_LIMIT))
            else:
                file_comments.append(FileComment(finding, file_comment_body(finding, secrets)))
        elif placement is None:
            in_body.append((finding, OFF_DIFF))
        elif len(comments) >= max_comments:
            in_body.append((finding, OVER_LIMIT))
        else:
            body = inline_body(finding, placement, lines, secrets)
            comments.append(InlineComment(finding, placement, body))
    return ReviewDraft(
        tuple(comments), tuple(in_body), head, run_id, tuple(secrets), tuple(file_comments)
    )


def fit_lines(lines: list[str], limit: int, where_rest: str) -> str:
    """Join ``lines``; when too long, drop whole lines from the end and say so."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit - 200:
            break
        kept.append(line)
        size += len(line) + 1
    dropped = len(lines) - len(kept)
    return "\n".join(
        [*kept, "", f"_{dropped} more lines left out to fit GitHub's limit; {where_rest}._"]
    )
