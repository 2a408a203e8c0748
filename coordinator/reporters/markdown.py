"""`--format markdown`: a GitHub-friendly summary (PR comment, job summary, a file).

Findings are grouped by severity; rejected findings and unreviewed files fold into
<details> so the comment stays short. Reviewer text is data an injected diff may have
steered: it is made safe to publish (``safe_text``) and table cells stay on one row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from coordinator.findings import ReviewFinding, Severity
from coordinator.reporters.safe_text import safe_code, safe_prose
from coordinator.review import Review, ReviewerReport, ReviewerStatus

_LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "jsx",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".cs": "csharp",
    ".sh": "bash",
    ".sql": "sql",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".json": "json",
}
_BACKTICKS = re.compile(r"`+")


def fence(content: str, info: str = "") -> str:
    """A fenced block that no backtick run inside `content` can close early."""
    longest = max((len(m) for m in _BACKTICKS.findall(content)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{content.rstrip(chr(10))}\n{ticks}"


def inline_code(text: str) -> str:
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _one_line(text: str) -> str:
    return " ".join(safe_prose(text).split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _location(finding: ReviewFinding) -> str:
    end = finding.last_line
    return f"{finding.path}:{finding.line}" + (f"-{end}" if end != finding.line else "")


def _language(path: str) -> str:
    dot = path.rfind(".")
    return _LANGUAGES.get(path[dot:].lower(), "") if dot != -1 else ""


def _tokens(n: int) -> str:
    return f"{n:,}"


def _cost(usd: float) -> str:
    return f"${usd:.4f}"


def _header(review: Review) -> list[str]:
    summary = review.summary
    threshold = summary.fail_on.value
    if review.incomplete:
        verdict = "**incomplete**: every reviewer failed"
    elif summary.failed:
        verdict = f"**failed**: findings at or above `{threshold}`"
    else:
        verdict = f"**passed**: no finding at or above `{threshold}`"
    diff = review.diff
    lines = [
        "## council review",
        "",
        f"Result: {verdict}. {len(review.findings)} findings from "
        f"{len(review.reviewers)} reviewers on {diff.files} files "
        f"(+{diff.additions} -{diff.deletions}).",
        "",
        "| " + " | ".join(s.value for s in Severity) + " |",
        "|" + "---:|" * len(Severity),
        "| " + " | ".join(str(summary.counts.get(s.value, 0)) for s in Severity) + " |",
    ]
    return lines


def _finding(f: ReviewFinding) -> list[str]:
    lines = [
        f"#### {f.rank}. {_one_line(f.title)}",
        "",
        f"**[{f.severity.value.upper()}]** {inline_code(_location(f))} · {_one_line(f.category)}"
        f" · confidence {f.confidence:.2f} · score {f.score:.4g}"
        f" · reviewers: {', '.join(f.reviewers)} · anchor: {f.anchor.value}"
        + (f" · verdict: {_one_line(f.verdict)}" if f.verdict else ""),
        "",
    ]
    if f.body:
        lines += [safe_prose(f.body), ""]
    if f.evidence:
        lines += [fence(safe_code(f.evidence), _language(f.path)), ""]
    if f.suggestion is not None:
        lines += ["Suggested change:", "", fence(safe_code(f.suggestion), "suggestion"), ""]
    return lines


def _findings(findings: list[ReviewFinding]) -> list[str]:
    if not findings:
        return ["No findings."]
    lines: list[str] = []
    for severity in Severity:
        group = [f for f in findings if f.severity is severity]
        if not group:
            continue
        lines += [f"### {severity.value.capitalize()} ({len(group)})", ""]
        for f in group:
            lines += _finding(f)
    return lines


def _reviewers(reports: list[ReviewerReport]) -> list[str]:
    if not reports:
        return []
    lines = [
        "### Reviewers",
        "",
        "| Reviewer | Status | Model | Sessions | Duration | Tokens in | Tokens out | Cost | Findings |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        model = f"{r.runtime} · {r.model}" if r.model else r.runtime
        lines.append(
            f"| {_cell(r.agent)} | {r.status.value} | {_cell(model)} | {r.sessions} "
            f"| {r.duration_s:.1f}s | {_tokens(r.tokens_in)} | {_tokens(r.tokens_out)} "
            f"| {_cost(r.cost_usd)} | {r.findings} |"
        )
    lines.append(
        f"| **total** | | | {sum(r.sessions for r in reports)} "
        f"| {sum(r.duration_s for r in reports):.1f}s "
        f"| {_tokens(sum(r.tokens_in for r in reports))} "
        f"| {_tokens(sum(r.tokens_out for r in reports))} "
        f"| {_cost(sum(r.cost_usd for r in reports))} "
        f"| {sum(r.findings for r in reports)} |"
    )
    errors = [r for r in reports if r.error and r.status is not ReviewerStatus.OK]
    if errors:
        lines.append("")
        lines += [
            f"- **{_cell(r.agent)}** {r.status.value}: {_one_line(r.error or '')}" for r in errors
        ]
    return lines


def _details(summary: str, items: Iterable[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *items, "", "</details>"]


def _rejected(review: Review) -> list[str]:
    if not review.rejected:
        return []
    items = [
        f"- {inline_code(f'{r.path}:{r.line}')} [{r.severity.value}] {_one_line(r.title)}"
        f" ({r.reviewer}): {_one_line(r.reason)}"
        for r in review.rejected
    ]
    return _details(f"Rejected findings ({len(review.rejected)})", items)


def _unreviewed(review: Review) -> list[str]:
    if not review.unreviewed:
        return []
    items = [
        f"- {inline_code(u.path)}: {_one_line(u.reason)}"
        + (f" ({_one_line(u.detail)})" if u.detail else "")
        for u in review.unreviewed
    ]
    return _details(f"Unreviewed files ({len(review.unreviewed)})", items)


def render_markdown(review: Review) -> str:
    sections = [
        _header(review),
        _findings(review.findings),
        _reviewers(review.reviewers),
        _rejected(review),
        _unreviewed(review),
    ]
    body = "\n\n".join("\n".join(s).strip("\n") for s in sections if s)
    return body + "\n"
