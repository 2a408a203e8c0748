"""Command line: argument parsing and wiring only. The TUI (textual) is imported lazily."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from coordinator import __version__
from coordinator.choices import FAIL_ON, FILTER_MODES, FORMATS, RUNTIMES
from coordinator.errors import CouncilError

if TYPE_CHECKING:
    # Typing only: `council --help` and the parser must not load pydantic or yaml.
    from coordinator.config import ReviewSettings
    from coordinator.review import Review

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(CouncilError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 too; this keeps the message format ours and the exit path single.
        raise UsageError(f"{self.prog}: {message}")


def _add_selection_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "range",
        nargs="?",
        help="A..B or A...B as in git diff (default: uncommitted changes vs HEAD)",
    )
    p.add_argument(
        "--base", metavar="REF", help="review from merge-base(REF, HEAD) to the working tree"
    )
    p.add_argument("--staged", action="store_true", default=None, help="review only staged changes")
    p.add_argument("--patch", metavar="FILE", help="review a unified diff file ('-' for stdin)")
    p.add_argument(
        "-C", "--repo", metavar="DIR", type=Path, help="the repository (default: current directory)"
    )
    _add_roster_flags(p)
    p.add_argument(
        "--show-dismissed",
        action="store_true",
        default=None,
        help="keep findings dismissed in .council/dismissed.toml (default: left out)",
    )


def _add_roster_flags(p: argparse.ArgumentParser) -> None:
    """Which reviewers run and how: shared by review and eval (the diff flags above are review's)."""
    p.add_argument(
        "--agents",
        metavar="A,B",
        help="reviewers to run (default: all built-in and project reviewers)",
    )
    p.add_argument("--runtime", choices=RUNTIMES, help="agent runtime for every reviewer")
    p.add_argument("--model", metavar="PROVIDER/MODEL", help="model for every reviewer")
    p.add_argument(
        "--opencode-url",
        metavar="URL",
        help="use a running OpenCode server (password from OPENCODE_SERVER_PASSWORD)",
    )
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        help="lowest severity that fails the review (default: high)",
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        metavar="X",
        help="drop findings below this merged confidence (0..1)",
    )
    p.add_argument("--max-findings", type=int, metavar="N", help="keep at most N findings")
    p.add_argument(
        "--filter",
        choices=FILTER_MODES,
        dest="filter_mode",
        help="which lines findings may sit on (default: diff_context)",
    )
    p.add_argument("--concurrency", type=int, metavar="N", help="sessions run at once (default: 8)")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        dest="timeout_s",
        help="per-session timeout (default: 600)",
    )
    p.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let the verifier agent confirm or refute each finding (default: off; on with --github)",
    )
    p.add_argument(
        "--untrusted",
        action="store_true",
        default=None,
        help="the diff may be hostile: base-branch reviewers and guidelines, read-only reviewers only, no secrets",
    )
    p.add_argument(
        "--budget-usd",
        type=float,
        metavar="X",
        help="start no new session once the spent cost would exceed X dollars",
    )
    p.add_argument(
        "--chunk-tokens",
        type=int,
        metavar="N",
        help="the most diff tokens one session receives; bigger files are split between hunks (default: 24000)",
    )
    p.add_argument(
        "--group-tokens",
        type=int,
        metavar="N",
        help="small files share a session up to N tokens of diff; each bigger file gets its own (default: 2000)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="council", description="Multi-agent code review: many reviewers, one ranked review."
    )
    parser.add_argument("--version", action="version", version=f"council {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    review = sub.add_parser("review", help="review a diff and print one ranked review")
    _add_selection_flags(review)
    review.add_argument(
        "--format", choices=FORMATS, dest="output_format", help="output format (default: text)"
    )
    review.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        help="write the review to FILE instead of stdout",
    )
    review.add_argument(
        "--dry-run", action="store_true", help="print the plan without starting any session"
    )
    review.add_argument(
        "--no-cache",
        action="store_false",
        dest="cache",
        default=None,
        help="review afresh instead of reusing a stored review of the same diff",
    )
    review.add_argument(
        "--github",
        action="store_true",
        help="in a GitHub Actions pull_request job: review the PR and post one review",
    )

    tui = sub.add_parser(
        "tui", help="review interactively: watch the reviewers work, then browse the findings"
    )
    _add_selection_flags(tui)
    tui.add_argument(
        "--no-cache",
        action="store_false",
        dest="cache",
        default=None,
        help="review afresh instead of reusing stored answers",
    )

    agents = sub.add_parser("agents", help="list or show the reviewers")
    agents_sub = agents.add_subparsers(dest="agents_command", parser_class=_Parser)
    agents_sub.add_parser("list", help="list reviewers and where each definition came from")
    show = agents_sub.add_parser("show", help="print one reviewer's definition")
    show.add_argument("name")
    agents.add_argument("-C", "--repo", metavar="DIR", type=Path)
    _add_hook_parser(sub)
    _add_eval_parser(sub)
    return parser


def _add_eval_parser(sub: Any) -> None:
    from coordinator.evaluation.command import add_eval_arguments

    evaluate = sub.add_parser("eval", help="score the reviewers against a labelled dataset")
    _add_roster_flags(evaluate)
    add_eval_arguments(evaluate)


def _add_hook_parser(sub: Any) -> None:
    hook = sub.add_parser("hook", help="install, remove or run council's git pre-push hook")
    hook_sub = hook.add_subparsers(dest="hook_command", required=True, parser_class=_Parser)
    install = hook_sub.add_parser("install", help="write .git/hooks/pre-push (or core.hooksPath)")
    install.add_argument(
        "--force", action="store_true", help="replace another hook (kept as backup)"
    )
    uninstall = hook_sub.add_parser("uninstall", help="remove council's pre-push hook")
    run = hook_sub.add_parser("run", help="what the installed hook calls (reads refs on stdin)")
    run.add_argument("hook_name", choices=("pre-push",), help="the git hook being run")
    run.add_argument("remote", nargs="?", help="remote name (git passes it)")
    run.add_argument("url", nargs="?", help="remote URL (git passes it)")
    run.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="block the push when council cannot review (default: warn and let it through)",
    )
    run.add_argument("--agents", metavar="A,B", help="reviewers to run")
    run.add_argument("--model", metavar="PROVIDER/MODEL", help="model for every reviewer")
    run.add_argument("--runtime", choices=RUNTIMES, help="agent runtime for every reviewer")
    run.add_argument("--fail-on", choices=FAIL_ON, help="lowest severity that blocks")
    for command in (install, uninstall, run):
        command.add_argument("-C", "--repo", metavar="DIR", type=Path)


def _repo_root(start: Path) -> Path:
    try:
        out = subprocess.run(
            ["git", "-C", str(start), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return start.resolve()
    return Path(out.stdout.strip())


def _cli_settings(args: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "agents", "runtime", "model", "opencode_url", "fail_on", "min_confidence",
        "max_findings", "filter_mode", "concurrency", "timeout_s", "chunk_tokens", "group_tokens",
        "output_format", "budget_usd", "verify", "untrusted", "cache", "show_dismissed",
    )  # fmt: skip
    return {k: getattr(args, k, None) for k in keys}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "agents":
            return _agents_command(args, sys.stdout)
        if args.command == "hook":
            return _hook_command(args)
        if args.command == "eval":
            return _eval_command(args)
        if args.command == "tui":
            return _tui_command(args)
        return _review_command(args)
    except CouncilError as exc:
        print(f"council: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BaseExceptionGroup as group:
        # Task groups wrap what their bodies raise; a lone CouncilError is still ours to report.
        error = _sole_council_error(group)
        if error is None:
            raise
        print(f"council: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("council: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _sole_council_error(group: BaseExceptionGroup[BaseException]) -> CouncilError | None:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    errors = [e for e in leaves if isinstance(e, CouncilError)]
    return errors[0] if errors and len(errors) == len(leaves) else None


def _agents_command(args: argparse.Namespace, out: TextIO) -> int:
    from coordinator.agents import load_roster

    repo = _repo_root(args.repo or Path.cwd())
    roster = load_roster(repo)
    if args.agents_command == "show":
        agent = roster.select([args.name])[0]
        out.write(f"name: {agent.name}\nsource: {agent.source}\ndescription: {agent.description}\n")
        out.write(f"model: {agent.model or '(default)'}\nruntime: {agent.runtime or '(default)'}\n")
        out.write(f"weight: {agent.weight}\nmax_findings: {agent.max_findings}\n")
        out.write(f"include: {list(agent.include)}\nexclude: {list(agent.exclude)}\n")
        out.write(f"permission: {json.dumps(agent.permission)}\n\n{agent.prompt}\n")
        return EXIT_OK
    width = max(len(n) for n in roster.agents)
    for name, agent in sorted(roster.agents.items()):
        role = " (verify stage)" if name == "verifier" else ""
        out.write(f"{name:<{width}}  {agent.source:<10}  {agent.description}{role}\n")
    return EXIT_OK


def _hook_command(args: argparse.Namespace) -> int:
    from coordinator.integrations import hook, hook_install

    repo = _repo_root(args.repo or Path.cwd())
    if args.hook_command == "run":
        overrides = {k: getattr(args, k) for k in ("agents", "model", "runtime", "fail_on")}
        call = hook.HookInvocation(
            repo, args.remote, args.url, dict(os.environ), overrides, args.strict
        )
        return hook.hook_main(call)
    change = (
        hook_install.install_hook(repo, force=args.force)
        if args.hook_command == "install"
        else hook_install.uninstall_hook(repo)
    )
    print(change.message, file=sys.stderr)
    return EXIT_OK


def _eval_command(args: argparse.Namespace) -> int:
    from coordinator.config import resolve_settings
    from coordinator.evaluation.command import eval_settings_overrides, run_eval

    project = _repo_root(args.repo or Path.cwd())
    env = dict(os.environ)
    cli = {**_cli_settings(args), **eval_settings_overrides(args)}
    return run_eval(args, project, resolve_settings(cli, repo=project, env=env), env)


def _review_command(args: argparse.Namespace) -> int:
    from coordinator.agents import load_roster
    from coordinator.config import resolve_settings
    from coordinator.diff.sources import DiffRequest

    repo = _repo_root(args.repo or Path.cwd())
    env = dict(os.environ)
    if args.github:
        from coordinator.integrations.github_action import github_command

        return github_command(args, repo, _cli_settings(args), env)
    settings = resolve_settings(_cli_settings(args), repo=repo, env=env)
    # An untrusted review takes its roster from the base commit (in the runner).
    agents = None if settings.untrusted else load_roster(repo).select(settings.agents)
    request = DiffRequest(
        range=args.range, base=args.base, staged=bool(args.staged), patch=args.patch
    )
    stdin_text = sys.stdin.read() if args.patch == "-" else None
    return anyio.run(_review_async, repo, request, agents, settings, env, args, stdin_text)


def _tui_command(args: argparse.Namespace) -> int:
    from coordinator.agents import load_roster
    from coordinator.config import resolve_settings
    from coordinator.diff.sources import DiffRequest
    from coordinator.tui.launch import launch_tui  # textual is imported here, and only here

    repo = _repo_root(args.repo or Path.cwd())
    env = dict(os.environ)
    settings = resolve_settings(_cli_settings(args), repo=repo, env=env)
    agents = None if settings.untrusted else load_roster(repo).select(settings.agents)
    request = DiffRequest(
        range=args.range, base=args.base, staged=bool(args.staged), patch=args.patch
    )
    return launch_tui(repo, request, agents, settings, env)


async def _review_async(
    repo: Path,
    request: Any,
    agents: Any,
    settings: ReviewSettings,
    env: dict[str, str],
    args: argparse.Namespace,
    stdin_text: str | None,
) -> int:
    from coordinator.cli_progress import ProgressDisplay
    from coordinator.review_store import run_or_reuse
    from coordinator.runner import plan_review_for

    prepared = await plan_review_for(
        repo,
        request,
        settings,
        env,
        agents=agents,
        stdin_text=stdin_text,
        require_runtime=not args.dry_run,
    )
    if args.dry_run:
        _write(args.output, _render_plan(prepared, settings))
        return EXIT_OK
    if not prepared.plan.assignments:
        print("council: nothing to review", file=sys.stderr)

    stop = anyio.Event()
    interrupted = False
    sessions_running = False
    review: Review | None = None
    progress = ProgressDisplay(sys.stderr, live=sys.stderr.isatty())

    def runtimes_ready() -> None:
        nonlocal sessions_running
        sessions_running = True

    async def watch_signals(scope: anyio.CancelScope) -> None:
        # Stays installed until the end: a second Ctrl-C must not skip the clean-up
        # (aborting remote sessions, stopping the server), which is itself bounded.
        nonlocal interrupted
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                interrupted = True
                stop.set()  # sessions running: abort them and keep the partial review
                if not sessions_running:
                    scope.cancel()  # still starting runtimes: nothing to keep

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_signals, tg.cancel_scope)
        with progress:
            review = await run_or_reuse(
                prepared, settings, env, progress, stop=stop, on_runtimes_ready=runtimes_ready
            )
        tg.cancel_scope.cancel()
    if review is None:
        print("council: interrupted while starting", file=sys.stderr)
        return EXIT_INTERRUPTED
    _write(args.output, _render_review(review, settings, args.output))
    progress.summary(review)
    if interrupted:
        return EXIT_INTERRUPTED
    return exit_code(review)


def exit_code(review: Review) -> int:
    if review.incomplete:
        return EXIT_INCOMPLETE
    return EXIT_FINDINGS if review.summary.failed else EXIT_OK


def _render_review(review: Review, settings: ReviewSettings, output: Path | None) -> str:
    from coordinator.reporters import REPORTERS
    from coordinator.reporters.text import render_text

    if settings.output_format == "text":
        color = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        return render_text(review, color=color)
    if settings.output_format not in REPORTERS:
        raise UsageError(f"--format {settings.output_format} is not available yet")
    return REPORTERS[settings.output_format](review)


def _render_plan(prepared: Any, settings: ReviewSettings) -> str:
    plan = prepared.plan
    if settings.output_format == "json":
        doc = {
            "diff": {"source": plan.diff.source, "files": len(plan.diff.files)},
            "assignments": [
                {
                    "key": a.key,
                    "agent": a.agent.name,
                    "runtime": a.runtime,
                    "model": a.model,
                    "chunk": a.chunk.index + 1,
                    "chunks": a.chunk_count,
                    "files": list(a.chunk.paths),
                    "estimated_tokens": a.estimated_tokens,
                }
                for a in plan.assignments
            ],
            "unreviewed": [u.model_dump() for u in plan.unreviewed],
        }
        return json.dumps(doc, indent=2) + "\n"
    lines = [
        f"Plan for {plan.diff.source}: {len(plan.diff.files)} files, {len(plan.assignments)} sessions"
    ]
    total = 0
    for a in plan.assignments:
        total += a.estimated_tokens
        lines.append(
            f"  {a.key:<22} {a.runtime:<12} {a.model or '(default model)':<28} "
            f"~{a.estimated_tokens:>7} tokens  {', '.join(a.chunk.paths)}"
        )
    lines.append(f"Estimated input: ~{total} tokens")
    for u in plan.unreviewed:
        lines.append(f"  unreviewed: {u.path} ({u.reason}{': ' + u.detail if u.detail else ''})")
    return "\n".join(lines) + "\n"


def _write(output: Path | None, text: str) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
