"""``council review --github``: review a pull request inside GitHub Actions and post it.

Reviews ``merge-base(base.sha, head.sha)..head.sha`` from the checkout, prints
the review like ``council review`` does (``--format``, ``-o``), writes SARIF to
``COUNCIL_SARIF_FILE`` when set, posts one review and the summary comment
(``github_publish``), appends the summary to ``GITHUB_STEP_SUMMARY`` and sets
step outputs in ``GITHUB_OUTPUT``.

In Actions, everything council prints between the start and the annotations is
fenced with ``::stop-commands::``: reviewer text in a log must not be able to
run workflow commands. When the review cannot be posted, each finding becomes
a workflow annotation instead, so it still shows on the PR's files.

With ``--github``, two defaults change unless set anywhere (flag, environment,
config): the verifier runs (``verify``), and a PR from a fork, or any
``pull_request_target`` run, is reviewed as ``untrusted``.

Exit codes: those of ``council review`` (0, 1, 2, 3), and 4 when GitHub did not
take the review (the message says why: a fork's read-only token, missing
``pull-requests: write``, rate limits, outages).
"""

from __future__ import annotations

import argparse
import secrets as random_tokens
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import anyio

from coordinator.config import ReviewSettings, env_config, project_config, resolve_settings
from coordinator.diff.sources import DiffRequest
from coordinator.errors import ConfigError
from coordinator.findings import ReviewFinding, Severity
from coordinator.integrations import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_NOT_POSTED,
    EXIT_OK,
)
from coordinator.integrations.github import GitHubClient, GitHubError
from coordinator.integrations.github_event import ActionsContext, PullRequest, load_context
from coordinator.integrations.github_publish import Published, publish_review
from coordinator.integrations.github_summary import SummaryLinks, render_summary
from coordinator.integrations.sanitize import clip, scrub, secret_values
from coordinator.review import Review

MAX_ANNOTATIONS = 50  # GitHub shows at most 50 per job
_ANNOTATION_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


def github_command(
    args: argparse.Namespace, repo: Path, cli: Mapping[str, Any], env: Mapping[str, str]
) -> int:
    for flag, given in (
        ("RANGE", args.range),
        ("--base", args.base),
        ("--staged", args.staged),
        ("--patch", args.patch),
        ("--dry-run", args.dry_run),
    ):
        if given:
            raise ConfigError(
                f"--github reviews the pull request's own commits (merge base of base and head "
                f"to head); it cannot take {flag}"
            )
    context = load_context(env)
    settings = resolve_settings(github_defaults(cli, repo, env, context.pull), repo=repo, env=env)
    return anyio.run(_review_pull_request, args, repo, settings, env, context)


def github_defaults(
    cli: Mapping[str, Any], repo: Path, env: Mapping[str, str], pull: PullRequest
) -> dict[str, Any]:
    """``cli`` plus the defaults --github changes, for settings nobody set elsewhere."""
    configured = {k for k, v in cli.items() if v is not None}
    configured |= set(env_config(env)) | set(project_config(repo)[0])
    out = dict(cli)
    if "verify" not in configured:
        out["verify"] = True
    if "untrusted" not in configured and (pull.is_fork or pull.event_name == "pull_request_target"):
        out["untrusted"] = True
    return out


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )


def _check_checkout(repo: Path, pull: PullRequest) -> list[str]:
    """Both commits must be here; returns warnings about the checkout."""
    for sha, what in ((pull.base_sha, "base"), (pull.head_sha, "head")):
        if _git(repo, "cat-file", "-e", f"{sha}^{{commit}}").returncode != 0:
            raise ConfigError(
                f"the pull request's {what} commit {sha[:12]} is not in this checkout. Check out "
                "with 'actions/checkout' and 'fetch-depth: 0' so both ends of the PR are present."
            )
    head = _git(repo, "rev-parse", "HEAD").stdout.strip()
    if head != pull.head_sha:
        return [
            f"the checkout is at {head[:12]}, not the PR head {pull.head_sha[:12]} (on "
            "pull_request, actions/checkout takes the merge commit): reviewers read files from "
            "the checkout. Check out 'ref: ${{ github.event.pull_request.head.sha }}'."
        ]
    return []


def _fork_hint(error: ConfigError, pull: PullRequest) -> ConfigError:
    if not pull.is_fork:
        return error
    return ConfigError(
        f"{error}\nThis pull request comes from the fork {pull.head_repo or '(deleted)'}: GitHub "
        "gives such runs no secrets, so no model key reaches council. Review only same-repository "
        "pull requests ('if: github.event.pull_request.head.repo.full_name == "
        "github.repository'), or see the README on pull_request_target."
    )


async def _review_pull_request(
    args: argparse.Namespace,
    repo: Path,
    settings: ReviewSettings,
    env: Mapping[str, str],
    context: ActionsContext,
) -> int:
    stop_token = random_tokens.token_hex(16) if context.in_actions else None
    if stop_token:
        print(f"::stop-commands::{stop_token}", flush=True)
    try:
        warnings, review, published, failure = await _review_and_post(
            args, repo, settings, env, context
        )
    finally:
        if stop_token:
            sys.stderr.flush()
            print(f"::{stop_token}::", flush=True)
    for warning in warnings:
        _command(sys.stdout, "warning", warning, {}, context.in_actions)
    if failure is not None:
        reason = (
            "the token cannot write to this pull request (a fork's read-only token, or the job "
            "lacks 'permissions: pull-requests: write')"
            if failure.no_permission
            else str(failure)
        )
        _command(sys.stdout, "error", f"council could not post the review: {reason}", {}, True)
        _annotate(sys.stdout, review, secret_values(env), context.in_actions)
    _write_outputs(context, review, published, args.output, env.get("COUNCIL_SARIF_FILE"))
    if failure is not None:
        return EXIT_NOT_POSTED
    if review.incomplete:
        return EXIT_INCOMPLETE
    return EXIT_FINDINGS if review.summary.failed else EXIT_OK


async def _review_and_post(
    args: argparse.Namespace,
    repo: Path,
    settings: ReviewSettings,
    env: Mapping[str, str],
    context: ActionsContext,
) -> tuple[list[str], Review, Published | None, GitHubError | None]:
    from coordinator.cli_progress import ProgressDisplay
    from coordinator.reporters import REPORTERS
    from coordinator.review_store import run_or_reuse
    from coordinator.runner import plan_review_for

    pull = context.pull
    warnings = await anyio.to_thread.run_sync(_check_checkout, repo, pull)
    request = DiffRequest(range=f"{pull.base_sha}...{pull.head_sha}")
    try:
        prepared = await plan_review_for(repo, request, settings, env)
    except ConfigError as exc:
        raise _fork_hint(exc, pull) from exc
    progress = ProgressDisplay(sys.stderr, live=False)
    with progress:
        review = await run_or_reuse(prepared, settings, env, progress)
    progress.summary(review)
    _emit(args.output, REPORTERS[settings.output_format](review))
    sarif_file = env.get("COUNCIL_SARIF_FILE")
    if sarif_file:
        _emit(Path(sarif_file), REPORTERS["sarif"](review))
    hidden = secret_values(env)
    published: Published | None = None
    failure: GitHubError | None = None
    try:
        async with GitHubClient(context.api_url, context.token) as client:
            published = await publish_review(
                client,
                pull,
                review,
                prepared.diff,
                max_comments=settings.max_comments,
                run_id=random_tokens.token_hex(8),
                server_url=context.server_url,
                run_url=context.run_url,
                secrets=hidden,
            )
    except GitHubError as exc:
        failure = exc
    if published is not None:
        retired = published.retired
        sys.stderr.write(
            f"council: posted {published.inline} inline comments, {published.file_comments} "
            f"file comments and {published.in_body} findings in the review body; "
            f"{published.already_reported} were reported before; deleted {retired.deleted} "
            f"stale comments and edited {retired.edited} kept for their replies\n"
        )
    if context.step_summary is not None:
        links = SummaryLinks(
            context.server_url,
            pull.base_repo,
            pull.head_sha,
            review_url=published.review_url if published else None,
            run_url=context.run_url,
        )
        text = render_summary(review, links, secrets=hidden, with_markers=False)
        if failure is not None:
            text += f"\n\n> council could not post this review on the pull request: {failure}\n"
        _append(context.step_summary, text + "\n")
    return warnings, review, published, failure


def _emit(output: Path | None, text: str) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror}") from exc


def _append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        sys.stderr.write(f"council: cannot write {path}: {exc.strerror}\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(
    out: TextIO, name: str, message: str, props: Mapping[str, str], in_actions: bool
) -> None:
    """A workflow command in Actions (escaped as @actions/core does), a plain line elsewhere."""
    if not in_actions:
        out.write(f"council: {name}: {message}\n")
        return
    fields = ",".join(f"{k}={_escape_property(v)}" for k, v in props.items())
    out.write(f"::{name}{' ' + fields if fields else ''}::{_escape_data(message)}\n")


def _annotate(out: TextIO, review: Review, hidden: tuple[str, ...], in_actions: bool) -> None:
    findings: list[ReviewFinding] = review.findings[:MAX_ANNOTATIONS]
    for f in findings:
        props = {
            "file": f.path,
            "line": str(f.line),
            "endLine": str(f.last_line),
            "title": clip(scrub(f"council [{f.severity.value}] {f.title}", hidden), 200),
        }
        message = clip(scrub(f.body or f.title, hidden), 1000)
        _command(out, _ANNOTATION_LEVEL[f.severity], message, props, in_actions)
    out.flush()


def _write_outputs(
    context: ActionsContext,
    review: Review,
    published: Published | None,
    output: Path | None,
    sarif_file: str | None,
) -> None:
    if context.output is None:
        return
    counts = review.summary.counts
    values = {
        "findings": str(len(review.findings)),
        **{s.value: str(counts.get(s.value, 0)) for s in Severity},
        "failed": "true" if review.summary.failed else "false",
        "incomplete": "true" if review.incomplete else "false",
        "posted": "true" if published is not None else "false",
        "review-url": (published.review_url or "") if published else "",
        "summary-url": (published.summary_url or "") if published else "",
        "results-file": str(output) if output else "",
        "sarif-file": sarif_file or "",
    }
    _append(context.output, "".join(f"{k}={v}\n" for k, v in values.items()))
