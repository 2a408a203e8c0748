"""The evaluation report as text (the default) or JSON. Pure.

Text: a header naming the dataset and the matching rules, one block per case (a
row per reviewer, then ``merged`` and ``verified``; what the headline row missed
and its false positives), then the micro-averaged totals and what it all cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from coordinator.evaluation.results import CaseResult, EvalReport, RowResult, TotalRow
from coordinator.evaluation.scoring import RowKind

_HEADER = (
    f"  {'row':<16} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7} {'F1':>6}"
    f" {'cost':>9} {'tokens':>9} {'time':>8}"
)


def render_json(report: EvalReport) -> str:
    return report.model_dump_json(indent=2) + "\n"


def render_text(report: EvalReport) -> str:
    lines = _preamble(report)
    for number, case in enumerate(report.cases, start=1):
        lines.append("")
        lines.extend(_case(case, number, report.dataset.cases))
    lines.append("")
    lines.extend(_totals(report))
    return "\n".join(lines) + "\n"


def _preamble(report: EvalReport) -> list[str]:
    d, s = report.dataset, report.settings
    judge = f"{s.judge} on {s.judge_runtime}" if s.judge else "none"
    model = s.model or "each reviewer's own"
    return [
        f"council eval: {d.name} ({d.path}): {d.cases} case{_s(d.cases)}, "
        f"{d.golden} golden issue{_s(d.golden)}",
        f"roster: {', '.join(s.agents)}; runtime: {s.runtime or 'default'}; model: {model}",
        f"matching: same path, within {s.line_window} line{_s(s.line_window)} of the golden "
        f"range, one-to-one; judge: {judge}",
    ]


def _case(case: CaseResult, number: int, of: int) -> list[str]:
    status = "" if case.status == "ok" else f" · {case.status.upper()}: every reviewer failed"
    lines = [
        f"[{number}/{of}] {case.id}: {len(case.golden)} golden · {case.files} file{_s(case.files)}"
        f" +{case.additions}/-{case.deletions} · {_duration(case.wall_s)} · {_usd(case.cost_usd)}"
        f" · {case.tokens_in + case.tokens_out:,} tokens{status}",
        _HEADER,
    ]
    lines.extend(_row_line(row, row.status, row.error) for row in case.rows)
    headline = _headline(case.rows)
    if headline is not None:
        for index in headline.missed:
            issue = case.golden[index]
            lines.append(
                f"  missed ({headline.name}): {_where(issue.path, issue.line)}  "
                f"{_one_line(issue.description)}"
            )
        for ref in headline.false_positives:
            lines.append(
                f"  false positive ({headline.name}): {_where(ref.path, ref.line)}  "
                f"{_one_line(ref.title)}"
            )
    if case.judge is not None:
        judged = (
            f"judge: {case.judge.accepted} of {case.judge.pairs} nearby pairs are the same issue"
        )
        if case.judge.error:
            judged = f"judge FAILED, scored by line window only: {_one_line(case.judge.error)}"
        lines.append(f"  {judged} ({_usd(case.judge.cost_usd)})")
    return lines


def _totals(report: EvalReport) -> list[str]:
    t = report.totals
    title = f"Totals over {t.cases} case{_s(t.cases)} (micro-averaged)"
    if report.interrupted:
        title += f": INTERRUPTED after {t.cases} of {report.dataset.cases} cases"
    lines = [title, _HEADER]
    lines.extend(_row_line(row, None, _failures(row)) for row in t.rows)
    spent = (
        f"cost {_usd(t.cost_usd)} · tokens {t.tokens_in:,} in / {t.tokens_out:,} out · "
        f"wall time {_duration(t.wall_s)}"
    )
    if report.settings.judge:
        spent += f" · judge {_usd(t.judge_cost_usd)}"
    lines.append(spent)
    if report.incomplete_cases:
        lines.append("incomplete (every reviewer failed): " + ", ".join(report.incomplete_cases))
    return lines


def _failures(row: TotalRow) -> str | None:
    if not row.failed_cases:
        return None
    return f"failed in {row.failed_cases} case{_s(row.failed_cases)}"


def _row_line(row: RowResult | TotalRow, status: str | None, note: str | None) -> str:
    tokens = row.tokens_in + row.tokens_out
    line = (
        f"  {row.name:<16} {row.tp:>4} {row.fp:>4} {row.fn:>4} {_rate(row.precision):>9}"
        f" {_rate(row.recall):>7} {_rate(row.f1):>6} {_usd(row.cost_usd):>9} {tokens:>9,}"
        f" {_duration(row.duration_s):>8}"
    )
    if status not in (None, "ok", "cached"):
        line += f"  {status}" + (f": {_one_line(note)}" if note else "")
    elif isinstance(row, TotalRow) and note:
        line += f"  {note}"
    return line


def _headline(rows: Sequence[RowResult]) -> RowResult | None:
    """The row whose misses and false positives are listed: verified, else merged."""
    for kind in (RowKind.VERIFIED, RowKind.MERGED):
        for row in rows:
            if row.kind is kind:
                return row
    return None


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _usd(value: float) -> str:
    return f"${value:.4f}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _where(path: str, line: int) -> str:
    return f"{path}:{line}"


def _one_line(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _s(count: int) -> str:
    return "" if count == 1 else "s"
