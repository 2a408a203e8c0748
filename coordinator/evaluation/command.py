"""``council eval DATASET``: arguments and entry point (``coordinator.cli`` wires it in).

Importing this module stays cheap (the parser is built on every ``council`` run);
the evaluation machinery is imported when the command runs.

Exit codes: 0 the evaluation ran; 2 bad dataset, flag or configuration; 3 at
least one case's review was incomplete (every reviewer failed; the numbers are
still printed); 130 interrupted (the cases finished so far are reported).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from coordinator.errors import ConfigError

if TYPE_CHECKING:
    from coordinator.agents import AgentSpec
    from coordinator.config import ReviewSettings
    from coordinator.evaluation.dataset import Dataset
    from coordinator.evaluation.results import CaseResult, EvalReport
    from coordinator.evaluation.runner import EvalOptions

EXIT_OK, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 3, 130
EVAL_FORMATS = ("text", "json")


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    """The eval-only arguments; the roster flags (--agents, --runtime, ...) come from the CLI."""
    p.add_argument("dataset", type=Path, help="a JSONL dataset, or a directory holding cases.jsonl")
    p.add_argument(
        "-C",
        "--repo",
        metavar="DIR",
        type=Path,
        help="the project whose reviewers (.council/agents) and config apply "
        "(default: current directory)",
    )
    p.add_argument("--cases", metavar="ID,ID", help="run only these cases")
    p.add_argument(
        "--line-window",
        type=int,
        default=3,
        metavar="N",
        help="a finding matches a golden issue on the same path within N lines (default: 3)",
    )
    p.add_argument(
        "--judge",
        metavar="PROVIDER/MODEL",
        help="also ask this model whether each nearby finding is the golden issue",
    )
    p.add_argument(
        "--format",
        choices=EVAL_FORMATS,
        default="text",
        dest="eval_format",
        help="output format (default: text)",
    )
    p.add_argument("-o", "--output", metavar="FILE", type=Path, help="write the report to FILE")
    p.add_argument(
        "--reuse-answers",
        action="store_true",
        help="answer sessions from the result store when the same prompt was answered "
        "before (default: every case runs fresh)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the dataset and plan every case without starting any session",
    )


def eval_settings_overrides(args: argparse.Namespace) -> dict[str, object]:
    """Settings eval sets itself: fresh answers unless --reuse-answers."""
    return {"cache": bool(args.reuse_answers)}


def run_eval(
    args: argparse.Namespace, project: Path, settings: ReviewSettings, env: Mapping[str, str]
) -> int:
    import anyio

    from coordinator.agents import load_roster
    from coordinator.evaluation.dataset import load_dataset
    from coordinator.evaluation.runner import EvalOptions

    if args.line_window < 0:
        raise ConfigError(f"--line-window must be 0 or more, got {args.line_window}")
    if args.judge is not None and "/" not in args.judge.strip("/"):
        raise ConfigError(f"--judge expects PROVIDER/MODEL, got {args.judge!r}")
    dataset = load_dataset(args.dataset).select(_ids(args.cases))
    agents = load_roster(project).select(settings.agents)
    if args.dry_run:
        text = anyio.run(_dry_run, dataset, agents, settings, dict(env), args.eval_format)
        _write(args.output, text)
        return EXIT_OK
    options = EvalOptions(line_window=args.line_window, judge_model=args.judge)
    report = anyio.run(_evaluate, dataset, agents, settings, dict(env), options)
    if report is None:
        print("council eval: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    _write(args.output, _render(report, args.eval_format))
    print(summary_line(report), file=sys.stderr)
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_INCOMPLETE if report.incomplete_cases else EXIT_OK


def _ids(value: str | None) -> list[str] | None:
    if value is None:
        return None
    ids = [i.strip() for i in value.split(",") if i.strip()]
    if not ids:
        raise ConfigError("--cases selected no case")
    return ids


async def _evaluate(
    dataset: Dataset,
    agents: Sequence[AgentSpec],
    settings: ReviewSettings,
    env: dict[str, str],
    options: EvalOptions,
) -> EvalReport | None:
    import anyio

    from coordinator.evaluation.runner import run_evaluation

    stop = anyio.Event()
    report: EvalReport | None = None

    async def watch_signals(scope: anyio.CancelScope) -> None:
        # First Ctrl-C: abort the running case, report the finished ones. Second: give up.
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                if stop.is_set():
                    scope.cancel()
                stop.set()

    live = sys.stderr.isatty()
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_signals, tg.cancel_scope)
        report = await run_evaluation(
            dataset,
            agents,
            settings,
            env,
            options,
            on_case=(lambda n, of, r: _progress(sys.stderr, n, of, r)) if live else None,
            stop=stop,
        )
        tg.cancel_scope.cancel()
    return report


async def _dry_run(
    dataset: Dataset,
    agents: Sequence[AgentSpec],
    settings: ReviewSettings,
    env: dict[str, str],
    output_format: str,
) -> str:
    from coordinator.evaluation.runner import plan_dataset

    plans = await plan_dataset(dataset, agents, settings, env)
    if output_format == "json":
        import json

        return json.dumps({"cases": plans}, indent=2) + "\n"
    lines = [f"Dataset {dataset.path}: {len(dataset.cases)} cases, all ready to run"]
    outside = 0
    for plan in plans:
        lines.append(
            f"  {plan['id']}: {_count(plan['files'], 'file')} +{plan['additions']}/"
            f"-{plan['deletions']}, {_count(plan['sessions'], 'session')}, "
            f"~{plan['estimated_tokens']:,} tokens in"
        )
        for golden in plan["golden"]:
            end = f"-{golden['end_line']}" if golden["end_line"] else ""
            lines.append(f"    golden {golden['path']}:{golden['line']}{end} ({golden['anchor']})")
            outside += golden["anchor"] == "outside"
    if outside:
        lines.append(
            f"{outside} golden issue(s) lie outside the diff: the merged review drops findings "
            "there (unless --filter nofilter), so they can only be missed"
        )
    return "\n".join(lines) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _progress(out: TextIO, number: int, of: int, result: CaseResult) -> None:
    headline = next((r for r in reversed(result.rows) if r.kind != "reviewer"), None)
    rates = ""
    if headline is not None:
        rates = f" {headline.name}: TP {headline.tp} FP {headline.fp} FN {headline.fn} ·"
    out.write(
        f"[{number}/{of}] {result.id}:{rates} {result.wall_s:.1f}s · ${result.cost_usd:.4f}\n"
    )
    out.flush()


def summary_line(report: EvalReport) -> str:
    row = report.row("verified") or report.row("merged")
    t = report.totals
    rates = ""
    if row is not None:
        rates = (
            f" · {row.name} precision {_rate(row.precision)} recall {_rate(row.recall)}"
            f" F1 {_rate(row.f1)}"
        )
    note = " (interrupted)" if report.interrupted else ""
    return (
        f"council eval: {t.cases} case{'s' if t.cases != 1 else ''}{note}{rates}"
        f" · ${t.cost_usd:.4f} · {t.wall_s:.1f}s"
    )


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _render(report: EvalReport, output_format: str) -> str:
    from coordinator.evaluation.render import render_json, render_text

    return render_json(report) if output_format == "json" else render_text(report)


def _write(output: Path | None, text: str) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror}") from exc
