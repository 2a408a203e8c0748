"""`--format text`: the review for a terminal, rendered with rich to a string.

Every severity carries a label (`[HIGH]`) as well as a colour, so the output reads
the same without colour (pipes, NO_COLOR, CI logs). Reviewer text is added as
rich `Text`, never as markup, so a title like "[bold]" prints literally. rich is
imported when rendering, not at import time, to keep `council --help` and the
git hook fast.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from coordinator.findings import ReviewFinding, Severity
from coordinator.reporters.safe_text import strip_control
from coordinator.review import Review, ReviewerReport, ReviewerStatus

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_STATUS_STYLE = {
    ReviewerStatus.OK: "green",
    ReviewerStatus.CACHED: "green",
    ReviewerStatus.SKIPPED: "dim",
    ReviewerStatus.FAILED: "bold red",
    ReviewerStatus.TIMEOUT: "bold red",
    ReviewerStatus.CANCELLED: "yellow",
}
_INDENT = 4


def _label(severity: Severity) -> str:
    return f"[{severity.value.upper()}]"


def _location(finding: ReviewFinding) -> str:
    end = finding.last_line
    return f"{finding.path}:{finding.line}" + (f"-{end}" if end != finding.line else "")


def _indented(renderable: RenderableType) -> RenderableType:
    from rich.padding import Padding

    return Padding(renderable, (0, 0, 0, _INDENT), expand=False)


def _print_header(console: Console, review: Review) -> None:
    from rich.text import Text

    summary = review.summary
    if review.incomplete:
        verdict, style = "INCOMPLETE (every reviewer failed)", "bold red"
    elif summary.failed:
        verdict, style = f"FAILED (fail-on {summary.fail_on.value})", "bold red"
    else:
        verdict, style = f"PASSED (fail-on {summary.fail_on.value})", "bold green"
    console.print(Text.assemble(("council review: ", "bold"), (verdict, style)))
    counts = Text()
    for i, severity in enumerate(Severity):
        if i:
            counts.append(" · ")
        counts.append(
            f"{severity.value} {summary.counts.get(severity.value, 0)}", SEVERITY_STYLE[severity]
        )
    diff = review.diff
    counts.append(
        f"  ({len(review.findings)} findings; {diff.files} files, +{diff.additions} -{diff.deletions})"
    )
    console.print(counts)


def _print_finding(console: Console, finding: ReviewFinding) -> None:
    from rich.text import Text

    style = SEVERITY_STYLE[finding.severity]
    console.print(
        Text.assemble(
            (_label(finding.severity), style),
            " ",
            (_location(finding), "bold"),
            "  ",
            (finding.title, "bold"),
        )
    )
    meta = (
        f"reviewers: {', '.join(finding.reviewers)} · category {finding.category} · "
        f"confidence {finding.confidence:.2f} · score {finding.score:.4g} · {finding.anchor.value}"
    )
    if finding.verdict:
        meta += f" · verdict: {finding.verdict}"
    console.print(_indented(Text(meta, style="dim")))
    if finding.body:
        console.print(_indented(Text(finding.body)))
    if finding.evidence:
        console.print(_indented(_code_block(finding.evidence, "│ ", "cyan")))
    if finding.suggestion is not None:
        console.print(_indented(Text("suggestion:", style="bold green")))
        console.print(_indented(_code_block(finding.suggestion, "+ ", "green")))


def _code_block(code: str, prefix: str, style: str) -> RenderableType:
    from rich.text import Text

    text = Text(no_wrap=False)
    for i, line in enumerate(code.splitlines() or [""]):
        if i:
            text.append("\n")
        text.append(prefix, style="dim")
        text.append(line, style=style)
    return text


def _print_findings(console: Console, findings: list[ReviewFinding]) -> None:
    if not findings:
        console.print("No findings.")
        return
    for severity in Severity:
        group = [f for f in findings if f.severity is severity]
        if not group:
            continue
        console.print()
        console.rule(f"{severity.value.upper()} ({len(group)})", style=SEVERITY_STYLE[severity])
        for finding in group:
            console.print()
            _print_finding(console, finding)


def _print_reviewers(console: Console, reports: list[ReviewerReport]) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not reports:
        return
    table = Table(
        box=box.SIMPLE_HEAD,
        title="Reviewers",
        title_justify="left",
        pad_edge=False,
        collapse_padding=True,
    )
    # Names and numbers never wrap; the model column folds when the terminal is narrow.
    table.add_column("Reviewer", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Model", overflow="fold")
    for name in ("Sessions", "Time", "Tokens in", "Tokens out", "Cost", "Findings"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in reports:
        table.add_row(
            Text(r.agent),
            Text(r.status.value, style=_STATUS_STYLE[r.status]),
            Text(f"{r.model} ({r.runtime})" if r.model else r.runtime),
            str(r.sessions),
            f"{r.duration_s:.1f}s",
            f"{r.tokens_in:,}",
            f"{r.tokens_out:,}",
            f"${r.cost_usd:.4f}",
            str(r.findings),
            end_section=r is reports[-1],
        )
    table.add_row(
        Text("total", style="bold"),
        "",
        "",
        str(sum(r.sessions for r in reports)),
        f"{sum(r.duration_s for r in reports):.1f}s",
        f"{sum(r.tokens_in for r in reports):,}",
        f"{sum(r.tokens_out for r in reports):,}",
        f"${sum(r.cost_usd for r in reports):.4f}",
        str(sum(r.findings for r in reports)),
    )
    console.print()
    console.print(table)
    for r in reports:
        if r.error and r.status is not ReviewerStatus.OK:
            console.print(
                Text.assemble((f"{r.agent} {r.status.value}: ", _STATUS_STYLE[r.status]), r.error)
            )


def _print_footer(console: Console, review: Review) -> None:
    from rich.text import Text

    line = Text(
        f"rejected: {len(review.rejected)} · unreviewed: {len(review.unreviewed)}", style="dim"
    )
    if review.rejected or review.unreviewed:
        line.append("  (reasons in --format json or markdown)", style="dim")
    console.print()
    console.print(line)


def _without_control(review: Review) -> Review:
    """Model text may carry terminal escapes (rich passes ESC through): strip them."""
    data = review.model_dump(mode="json")

    def clean(value: object) -> object:
        if isinstance(value, str):
            return strip_control(value)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return Review.model_validate(clean(data))


def render_text(review: Review, *, color: bool, width: int = 100) -> str:
    from rich.console import Console

    review = _without_control(review)

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
        force_jupyter=False,
        legacy_windows=False,
    )
    _print_header(console, review)
    _print_findings(console, review.findings)
    _print_reviewers(console, review.reviewers)
    _print_footer(console, review)
    # rich pads tables and rules to the width; trailing blanks only get in the way of diffs.
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def render_plain_text(review: Review) -> str:
    """The registry's "text": no colour, so it is safe for files and pipes."""
    return render_text(review, color=False)
