"""The summary comment: one issue comment per pull request, edited in place. Pure.

It shows the review as it stands on the latest head, and ends with a hidden
state marker (base64 JSON) listing what it showed, so the next run can tell
which findings are no longer found. The same text, without markers, is the
Actions job summary.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from coordinator.findings import Severity
from coordinator.integrations.github_review import BODY_LIMIT, TITLE_LIMIT, fit_lines, location
from coordinator.integrations.sanitize import clip, safe_line, scrub
from coordinator.reporters.markdown import inline_code
from coordinator.review import Review, ReviewerStatus

SUMMARY_MARKER = "<!-- council:summary v1 -->"
MAX_STATE_FINDINGS = 300
_STATE = re.compile(r"<!-- council:state ([A-Za-z0-9+/=]*) -->")


@dataclass(frozen=True)
class ListedFinding:
    id: str
    severity: str
    path: str
    line: int
    title: str


@dataclass(frozen=True)
class SummaryState:
    """What the summary comment listed last time (kept in a hidden marker)."""

    head: str
    findings: tuple[ListedFinding, ...]

    def encode(self) -> str:
        data = {
            "v": 1,
            "head": self.head,
            "findings": [
                [f.id, f.severity, f.path, f.line, f.title]
                for f in self.findings[:MAX_STATE_FINDINGS]
            ],
        }
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return f"<!-- council:state {base64.b64encode(raw).decode('ascii')} -->"

    @classmethod
    def decode(cls, body: str) -> SummaryState | None:
        match = _STATE.search(body)
        if match is None:
            return None
        try:
            data = json.loads(base64.b64decode(match.group(1), validate=True))
            items = tuple(
                ListedFinding(str(i), str(s), str(p), int(n), str(t))
                for i, s, p, n, t in data["findings"]
            )
            return cls(str(data["head"]), items)
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None  # damaged or edited by hand: start afresh

    @classmethod
    def of(cls, review: Review, head: str) -> SummaryState:
        return cls(
            head,
            tuple(
                ListedFinding(f.id, f.severity.value, f.path, f.line, clip(f.title, 120))
                for f in review.findings
            ),
        )


@dataclass(frozen=True)
class SummaryLinks:
    server_url: str
    repository: str  # owner/name
    head: str
    comment_urls: Mapping[str, str] = field(default_factory=dict)  # finding id -> comment
    review_url: str | None = None
    run_url: str | None = None

    def lines_url(self, path: str, first: int, last: int) -> str:
        anchor = f"#L{first}" + (f"-L{last}" if last != first else "")
        return f"{self.server_url}/{self.repository}/blob/{self.head}/{quote(path)}{anchor}"


def _verdict(review: Review) -> str:
    summary = review.summary
    if review.incomplete:
        return "**incomplete**: every reviewer failed"
    if summary.failed:
        return f"**failed**: findings at or above `{summary.fail_on.value}`"
    return f"**passed**: no finding at or above `{summary.fail_on.value}`"


def _counts(review: Review) -> str:
    counts = review.summary.counts
    shown = [f"{counts.get(s.value, 0)} {s.value}" for s in Severity if counts.get(s.value, 0)]
    return ", ".join(shown) or "no findings"


def _reviewer_lines(review: Review, secrets: Sequence[str]) -> list[str]:
    if not review.reviewers:
        return []
    ok = (ReviewerStatus.OK, ReviewerStatus.CACHED, ReviewerStatus.SKIPPED)
    rows = [
        f"| {safe_line(r.agent, secrets)} | {r.status.value} | {r.findings} | "
        f"{clip(safe_line(r.error or '', secrets), 200) if r.status not in ok else ''} |"
        for r in review.reviewers
    ]
    return [
        "<details><summary>Reviewers</summary>",
        "",
        "| Reviewer | Status | Findings | Problem |",
        "|---|---|---:|---|",
        *rows,
        "",
        "</details>",
    ]


def render_summary(
    review: Review,
    links: SummaryLinks,
    *,
    fixed: Sequence[ListedFinding] = (),
    secrets: Sequence[str] = (),
    with_markers: bool = True,
) -> str:
    """The summary comment (or, without markers, the job summary): the review as it stands."""
    head = links.head[:12]
    lines = [SUMMARY_MARKER] if with_markers else []
    lines += [
        "## council review",
        "",
        f"Result: {_verdict(review)} · {_counts(review)} · head `{head}`",
        "",
    ]
    if review.findings:
        lines += ["| # | Severity | Where | Finding | Reviewers |", "|---:|---|---|---|---|"]
        for f in review.findings:
            url = links.lines_url(f.path, f.line, f.last_line)
            code = inline_code(scrub(location(f), secrets)).replace("|", "\\|")  # a table cell
            where = f"[{code}]({url})"
            title = clip(safe_line(f.title, secrets), TITLE_LIMIT)
            if f.id in links.comment_urls:
                title = f"[{title}]({links.comment_urls[f.id]})"
            reviewers = safe_line(", ".join(f.reviewers), secrets)
            lines.append(f"| {f.rank} | {f.severity.value} | {where} | {title} | {reviewers} |")
    else:
        lines.append("No findings.")
    if fixed:
        lines += ["", f"**No longer found** since the last review ({len(fixed)}):", ""]
        lines += [
            f"- ~~{clip(safe_line(f.title, secrets), TITLE_LIMIT)}~~ "
            f"{inline_code(scrub(f.path, secrets))} ({f.severity})"
            for f in fixed
        ]
    if review.unreviewed:
        lines += [
            "",
            f"{len(review.unreviewed)} files were not reviewed (binary, deleted or over budget).",
        ]
    lines += ["", *_reviewer_lines(review, secrets)]
    footer = f"Updated for `{head}`"
    if links.review_url:
        footer += f" · [latest review]({links.review_url})"
    if links.run_url:
        footer += f" · [workflow run]({links.run_url})"
    lines += ["", f"<sub>{footer}</sub>"]
    state = SummaryState.of(review, links.head).encode() if with_markers else ""
    return fit_lines(lines, BODY_LIMIT - len(state) - 1, "see the workflow run") + (
        "\n" + state if state else ""
    )
