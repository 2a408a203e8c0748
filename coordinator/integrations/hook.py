"""``council hook run pre-push``: review what a push sends, block it on serious findings.

Called by git's pre-push hook (refs on stdin, remote name and URL as
arguments) or by the pre-commit framework (``PRE_COMMIT_*`` variables). Each
range of the push is reviewed non-interactively (no TUI), through the review
store, so pushing the same commits again answers at once.

Exit status, which git obeys:

- 0: nothing at or above ``fail_on``, nothing to review, ``COUNCIL_SKIP=1``, or
  council could not review (no runtime, bad configuration, every reviewer
  failed): it warns and lets the push through, because a broken reviewer must
  not trap a developer's work. ``strict_hook = true`` (or ``--strict``) turns
  those into 2 (configuration) and 3 (every reviewer failed) instead.
- 1: findings at or above ``fail_on``; the push is blocked, the ranked findings
  and how to bypass are printed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio

from coordinator.config import ReviewSettings, resolve_settings
from coordinator.errors import CouncilError
from coordinator.integrations import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from coordinator.integrations.push import (
    PushRange,
    parse_push_lines,
    pre_commit_range,
    ranges_to_review,
)
from coordinator.review import Review

BYPASS = "bypass once with `git push --no-verify` or `COUNCIL_SKIP=1 git push`"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class HookInvocation:
    repo: Path
    remote: str | None
    url: str | None
    env: Mapping[str, str]
    overrides: Mapping[str, Any]  # settings given as flags to `hook run`
    strict: bool | None  # --strict; None: from the settings


def skip_requested(env: Mapping[str, str]) -> bool:
    return env.get("COUNCIL_SKIP", "").strip().lower() in _TRUE


def run_pre_push(call: HookInvocation, stdin: TextIO, out: TextIO) -> int:
    """The whole hook; every message goes to ``out`` (git shows the hook's stderr)."""
    if skip_requested(call.env):
        out.write("council: COUNCIL_SKIP=1, pushing without a review\n")
        return EXIT_OK
    strict = call.strict
    if strict is None:  # until the settings are read, only the environment can say
        strict = call.env.get("COUNCIL_STRICT_HOOK", "").strip().lower() in _TRUE
    try:
        settings = resolve_settings(call.overrides, repo=call.repo, env=call.env)
        strict = call.strict if call.strict is not None else settings.strict_hook
        from_pre_commit = pre_commit_range(call.repo, call.env)
        notes: list[str] = []
        if from_pre_commit is not None:
            ranges = [from_pre_commit]
        else:
            refs = parse_push_lines(stdin.read())
            remote = call.remote or call.env.get("PRE_COMMIT_REMOTE_NAME")
            ranges, notes = ranges_to_review(call.repo, remote, refs)
    except CouncilError as exc:
        return _cannot_review(out, str(exc), EXIT_USAGE, strict=strict)
    for note in notes:
        out.write(f"council: {note}\n")
    if not ranges:
        return EXIT_OK
    return anyio.run(_review_ranges, call, settings, ranges, out, strict)


def _cannot_review(out: TextIO, reason: str, code: int, *, strict: bool) -> int:
    if strict:
        out.write(f"council: error: {reason}\ncouncil: push blocked (strict_hook); {BYPASS}\n")
        return code
    out.write(
        f"council: warning: {reason}\n"
        "council: pushing without a review (set strict_hook = true in .council.toml to block "
        "instead)\n"
    )
    return EXIT_OK


async def _review_ranges(
    call: HookInvocation,
    settings: ReviewSettings,
    ranges: list[PushRange],
    out: TextIO,
    strict: bool,
) -> int:
    blocked: list[Review] = []
    for pushed in ranges:
        problem: CouncilError | None = None
        try:
            review = await _review_range(call, settings, pushed, out)
        except CouncilError as exc:
            problem = exc
        except BaseExceptionGroup as group:  # task groups wrap what their bodies raise
            problem = _sole_council_error(group)
            if problem is None:
                raise
        if problem is not None:
            # Lenient: warn and go on with the other ranges (one may still block the push).
            code = _cannot_review(
                out, f"{pushed.label}: {problem}", problem.exit_code, strict=strict
            )
            if code:
                return code
            continue
        if review is None:
            continue
        if review.incomplete:
            reasons = "; ".join(f"{r.agent}: {r.error}" for r in review.reviewers if r.error)
            code = _cannot_review(
                out,
                f"{pushed.label}: every reviewer failed ({reasons})",
                EXIT_INCOMPLETE,
                strict=strict,
            )
            if code:
                return code
            continue
        _report(out, pushed, review, settings)
        if review.summary.failed:
            blocked.append(review)
    if not blocked:
        return EXIT_OK
    threshold = settings.fail_on.threshold()
    count = sum(
        1
        for review in blocked
        for f in review.findings
        if threshold is not None and f.severity.at_least(threshold)
    )
    out.write(
        f"council: push blocked: {count} finding{'s' if count != 1 else ''} at or above "
        f"{settings.fail_on.value}. Fix them, or {BYPASS}.\n"
    )
    return EXIT_FINDINGS


async def _review_range(
    call: HookInvocation, settings: ReviewSettings, pushed: PushRange, out: TextIO
) -> Review | None:
    from coordinator.cli_progress import ProgressDisplay
    from coordinator.review_store import run_or_reuse
    from coordinator.runner import plan_review_for

    request, patch = await anyio.to_thread.run_sync(pushed.diff_request, call.repo)
    prepared = await plan_review_for(call.repo, request, settings, call.env, stdin_text=patch)
    if not prepared.plan.assignments:
        out.write(f"council: {pushed.label}: nothing a reviewer can read (binary/deleted files)\n")
        return None
    out.write(f"council: reviewing {pushed.label}\n")
    out.flush()
    reused = False

    def note_reuse() -> None:
        nonlocal reused
        reused = True

    progress = ProgressDisplay(out, live=out.isatty())
    with progress:
        review = await run_or_reuse(prepared, settings, call.env, progress, on_reuse=note_reuse)
    if reused:
        out.write(f"council: {pushed.label}: reviewed before, reusing the stored review\n")
    else:
        progress.summary(review)
    return review


def _report(out: TextIO, pushed: PushRange, review: Review, settings: ReviewSettings) -> None:
    from coordinator.reporters.text import render_text

    if review.findings:
        color = out.isatty() and "NO_COLOR" not in os.environ
        out.write(render_text(review, color=color))
    if not review.summary.failed:
        out.write(
            f"council: {pushed.label}: no finding at or above {settings.fail_on.value} "
            f"({len(review.findings)} below)\n"
        )


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


def hook_main(call: HookInvocation) -> int:
    """Entry for the CLI: stdin is git's ref list, stderr is what the developer sees."""
    return run_pre_push(call, sys.stdin, sys.stderr)
