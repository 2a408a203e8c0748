"""Rich renderables and plain text for the TUI: cells, the finding detail, Markdown.

Pure (rich only, no textual): the widgets place these; tests and the copy action
use them directly. Severity and state always carry a word, so nothing depends on
colour alone.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from pygments.lexers import get_lexer_for_filename  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]
from rich.console import Group, RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Span, Text

from coordinator.diff.model import DiffFile, DiffLine, Hunk, LineKind
from coordinator.diff.render import render_hunk_header
from coordinator.dismissals import Dismissal
from coordinator.findings import ReportedFinding, ReviewFinding, Severity
from coordinator.reporters.markdown import fence, inline_code
from coordinator.tui.state import RowState

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on #b4002d",
    Severity.HIGH: "bold #ff5f5f",
    Severity.MEDIUM: "bold #ffaf00",
    Severity.LOW: "#5fafff",
    Severity.INFO: "#8a8a8a",
}
SEVERITY_BADGE = {
    Severity.CRITICAL: "bold white on #b4002d",
    Severity.HIGH: "bold #1c1c1c on #ff5f5f",
    Severity.MEDIUM: "bold #1c1c1c on #ffaf00",
    Severity.LOW: "bold #1c1c1c on #5fafff",
    Severity.INFO: "bold #1c1c1c on #8a8a8a",
}
SEVERITY_LABEL = {
    Severity.CRITICAL: "CRIT",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MED",
    Severity.LOW: "LOW",
    Severity.INFO: "INFO",
}
STATE_STYLE = {
    RowState.QUEUED: ("○", "#8a8a8a"),
    RowState.RUNNING: ("●", "bold #5fd7ff"),
    RowState.RETRYING: ("↻", "bold #ffaf00"),
    RowState.DONE: ("✓", "#5fd75f"),
    RowState.FAILED: ("✗", "bold #ff5f5f"),
    RowState.CANCELLED: ("■", "#d7875f"),
    RowState.CACHED: ("◆", "#87afd7"),
    RowState.SKIPPED: ("·", "#8a8a8a"),
}
ADD_BG = "on #12321e"
DELETE_BG = "on #3c1418"
FOCUS_BG = "on #4a3c00"
EXCERPT_CONTEXT = 6  # lines shown around a finding in a long hunk or in the file
SYNTAX_THEME = "monokai"


def severity_text(severity: Severity) -> Text:
    return Text(f"{SEVERITY_LABEL[severity]:<4}", style=SEVERITY_STYLE[severity])


def severity_badge(severity: Severity) -> Text:
    return Text.assemble((f" {severity.value.upper()} ", SEVERITY_BADGE[severity]))


def state_text(state: RowState) -> Text:
    glyph, style = STATE_STYLE[state]
    return Text(f"{glyph} {state.value}", style=style)


def tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def cost(usd: float) -> str:
    return f"${usd:.4f}" if usd < 10 else f"${usd:.2f}"


def elapsed(seconds: float) -> str:
    """Whole seconds: a running row's clock then changes once a second, not every repaint."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60:02d}s"


def location(f: ReviewFinding) -> str:
    end = f.last_line
    return f"{f.path}:{f.line}" + (f"-{end}" if end != f.line else "")


# -- code ------------------------------------------------------------------------------


def _highlighted_lines(path: str, lines: Sequence[str]) -> list[Text]:
    """Each line syntax-highlighted, lexed together so multi-line constructs colour right."""
    code = "\n".join(lines)
    syntax = Syntax(code, lexer_for(path), theme=SYNTAX_THEME, background_color="default")
    text = syntax.highlight(code)
    # Keep the theme's colours but not its backgrounds: those mark added/deleted lines here.
    text.style = ""
    text.spans = [
        Span(span.start, span.end, _without_background(span.style)) for span in text.spans
    ]
    text.rstrip()
    parts = text.split("\n", allow_blank=True)
    out = list(parts)[: len(lines)]
    while len(out) < len(lines):
        out.append(Text(""))
    return out


@functools.lru_cache(maxsize=256)
def lexer_for(path: str) -> str:
    """By file name only: pygments' content guessing tries every lexer and is slow.

    Even so, the first look-up in a process is slow (~0.4 s: it compiles every
    lexer's file-name patterns and imports pygments plugins), so the app makes it
    for the changed files in a thread at start-up.
    """
    try:
        return str(get_lexer_for_filename(path).aliases[0])
    except ClassNotFound:
        return "text"


def _without_background(style: str | Style) -> Style:
    parsed = Style.parse(style) if isinstance(style, str) else style
    return parsed.copy() if parsed.bgcolor is None else parsed + Style(bgcolor="default")


@dataclass(frozen=True)
class _Row:
    old: int | None
    new: int | None
    marker: str
    text: str


def _code_block(path: str, rows: Sequence[_Row], focus: range) -> Text:
    width = max([len(str(n)) for r in rows for n in (r.old, r.new) if n is not None] + [3])
    texts = _highlighted_lines(path, [r.text for r in rows])
    out = Text()
    for row, code in zip(rows, texts, strict=True):
        focused = row.new is not None and row.new in focus and row.marker != "-"
        bg = (
            FOCUS_BG
            if focused
            else ADD_BG
            if row.marker == "+"
            else DELETE_BG
            if row.marker == "-"
            else ""
        )
        old = "" if row.old is None else str(row.old)
        new = "" if row.new is None else str(row.new)
        line = Text("▶ " if focused else "  ", style="bold #ffd75f")
        line.append(f"{old:>{width}} {new:>{width}} ", style="#6c6c6c")
        line.append(f"{row.marker} ", style="bold")
        line.append_text(code)
        if bg:
            line.stylize(bg, 2 + 2 * (width + 1))
        out.append_text(line)
        out.append("\n")
    out.rstrip()
    return out


def _hunk_rows(hunk: Hunk) -> list[_Row]:
    marks = {LineKind.ADD: "+", LineKind.DELETE: "-", LineKind.CONTEXT: " "}
    return [_Row(ln.old_lineno, ln.new_lineno, marks[ln.kind], ln.text) for ln in hunk.lines]


def hunk_for(file: DiffFile | None, line: int, last: int) -> Hunk | None:
    """The hunk showing any line of line..last on the new side, else None."""
    if file is None:
        return None
    for hunk in file.hunks:
        numbers = [ln.new_lineno for ln in hunk.lines if ln.new_lineno is not None]
        if numbers and any(line <= n <= last for n in numbers):
            return hunk
    return None


def code_context(
    finding: ReviewFinding, file: DiffFile | None, file_text: str | None
) -> RenderableType:
    """The diff hunk around the finding with its lines marked; else the file around it."""
    focus = range(finding.line, finding.last_line + 1)
    hunk = hunk_for(file, finding.line, finding.last_line)
    if hunk is not None:
        rows = _hunk_rows(hunk)
        index = [i for i, r in enumerate(rows) if r.new is not None and r.new in focus]
        start = max(0, index[0] - EXCERPT_CONTEXT) if index else 0
        stop = min(len(rows), index[-1] + EXCERPT_CONTEXT + 1) if index else len(rows)
        header = Text(render_hunk_header(hunk), style="#87afd7")
        if start > 0 or stop < len(rows):
            header.append(f"  (lines {start + 1}-{stop} of {len(rows)})", style="#6c6c6c")
        return Group(header, _code_block(finding.path, rows[start:stop], focus))
    if file_text is not None:
        lines = file_text.splitlines()
        first = max(1, finding.line - EXCERPT_CONTEXT)
        last = min(len(lines), finding.last_line + EXCERPT_CONTEXT)
        rows = [_Row(None, n, " ", lines[n - 1]) for n in range(first, last + 1)]
        note = Text(f"{finding.path}: outside the diff hunks (anchor: {finding.anchor})", "#6c6c6c")
        return Group(note, _code_block(finding.path, rows, focus))
    return Text(f"{location(finding)} is not in the diff hunks (anchor: {finding.anchor})", "dim")


def current_lines(
    finding: ReviewFinding, file: DiffFile | None, file_text: str | None
) -> list[str] | None:
    """The lines a suggestion replaces (line..end_line), from the diff or the file."""
    wanted = range(finding.line, finding.last_line + 1)
    shown: dict[int, DiffLine] = {}
    for hunk in file.hunks if file is not None else ():
        for ln in hunk.lines:
            if ln.new_lineno is not None and ln.new_lineno in wanted:
                shown[ln.new_lineno] = ln
    if len(shown) == len(wanted):
        return [shown[n].text for n in wanted]
    if file_text is not None:
        lines = file_text.splitlines()
        if finding.last_line <= len(lines):
            return lines[finding.line - 1 : finding.last_line]
    return None


def suggestion_diff(finding: ReviewFinding, current: list[str] | None) -> RenderableType:
    """The suggestion as a diff against the lines it replaces."""
    proposed = (finding.suggestion or "").removesuffix("\n").split("\n")
    if current is None:
        rows = [_Row(None, None, "+", t) for t in proposed]
        note = Text("(the current lines are not available; the suggestion alone)", "#6c6c6c")
        return Group(note, _code_block(finding.path, rows, range(0)))
    rows = []
    matcher = difflib.SequenceMatcher(a=current, b=proposed, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [_Row(finding.line + i, None, " ", current[i]) for i in range(i1, i2)]
            continue
        rows += [_Row(finding.line + i, None, "-", current[i]) for i in range(i1, i2)]
        rows += [_Row(None, None, "+", proposed[j]) for j in range(j1, j2)]
    return _code_block(finding.path, rows, range(0))


# -- the detail pane ------------------------------------------------------------------


def finding_header(
    finding: ReviewFinding, triage: str, dismissal: Dismissal | None
) -> RenderableType:
    title = Text()
    title.append_text(severity_badge(finding.severity))
    title.append(" ")
    title.append(finding.title, style="bold")
    meta = Text(style="#a8a8a8")
    meta.append(location(finding), style="bold #87afd7")
    meta.append(f"  #{finding.rank} · {finding.category} · confidence {finding.confidence:.2f}")
    meta.append(f" · score {finding.score:.3g} · anchor {finding.anchor}")
    meta.append(f"\nreviewers: {', '.join(finding.reviewers)} · id {finding.id}")
    if finding.verdict:
        meta.append(f"\nverdict: {finding.verdict}")
    parts: list[RenderableType] = [title, meta]
    if triage == "accepted":
        parts.append(Text("✓ accepted", style="bold #5fd75f"))
    elif dismissal is not None:
        reason = f": {dismissal.reason}" if dismissal.reason else ""
        parts.append(Text(f"✗ dismissed{reason}", style="bold #d7875f"))
    return Group(*parts)


def wording(members: Sequence[ReportedFinding]) -> RenderableType:
    """What each reviewer said, in their own words."""
    out = Text()
    for m in members:
        f = m.finding
        out.append(f"{m.reviewer}", style="bold")
        out.append(f" · {f.severity.value} · {f.confidence:.2f} · {f.path}:{f.line}\n", "#8a8a8a")
        out.append(f"  {f.title}\n", style="italic")
        if f.body:
            out.append("  " + f.body.replace("\n", "\n  ") + "\n", style="#bcbcbc")
    out.rstrip()
    return out


def finding_markdown(finding: ReviewFinding, members: Sequence[ReportedFinding]) -> str:
    """One finding as Markdown (the copy action): pasteable into an issue or a PR."""
    lines = [
        f"### [{finding.severity.value.upper()}] {' '.join(finding.title.split())}",
        "",
        f"{inline_code(location(finding))} · {finding.category} · confidence "
        f"{finding.confidence:.2f} · reviewers: {', '.join(finding.reviewers)}",
        "",
    ]
    if finding.body:
        lines += [finding.body, ""]
    if finding.evidence:
        lines += [fence(finding.evidence), ""]
    if finding.suggestion is not None:
        lines += ["Suggested change:", "", fence(finding.suggestion, "suggestion"), ""]
    others = [
        m for m in members if m.finding.title != finding.title or m.finding.body != finding.body
    ]
    if len(members) > 1 and others:
        lines += ["Reviewers' wording:", ""]
        for m in members:
            lines.append(f"- **{m.reviewer}**: {' '.join(m.finding.title.split())}")
        lines.append("")
    lines.append(f"<sub>council finding {finding.id}</sub>")
    return "\n".join(lines) + "\n"
