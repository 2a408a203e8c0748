"""The verify stage: cheap mechanical checks on every merged finding, then a verifier agent.

Mechanical checks need no model: an ``evidence`` quote must exist in the file at or
near the cited lines (else the finding is rejected as unfounded); a finding only the
guidelines reviewer made must quote a rule that exists in a guideline file; a ``suggestion``
identical to the current lines is dropped; a finding outside the hunks that names no
changed line is ranked down. The verifier agent then sees the findings of one file at
a time (one session per file, not per finding) and must confirm or refute each *with
evidence*: a refutation whose quoted line cannot be found in the repository does not
count. It fails open: a verifier that errors never removes a finding.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coordinator.agents import AgentSpec
from coordinator.answers import AnswerError, extract_json_text
from coordinator.diff.model import DiffFile
from coordinator.diff.render import render_file
from coordinator.errors import SessionError
from coordinator.events import EventSink, SessionFinished, SessionQueued, Usage
from coordinator.findings import Anchor, RejectedFinding, ReviewFinding
from coordinator.merge import ANCHOR_FACTOR, FilterMode, LineLocator, MergeResult
from coordinator.prompts import load_template, new_nonce, render_repair_prompt, shown_path
from coordinator.review import ReviewerReport, ReviewerStatus
from coordinator.runtimes.base import Runtime, SessionSpec

GUIDELINES_REVIEWER = "guidelines"
REFUTED_REASON = "refuted by verifier"  # prefix of a refuted finding's rejection reason
EVIDENCE_WINDOW = 5  # lines around the cited range where a quote may sit
UNLINKED_FILE_FACTOR = 0.5  # score factor for an out-of-hunk finding naming no changed line
MAX_CODE_LINES = 1500  # of the file shown to the verifier, around the findings


class Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    verdict: Literal["confirmed", "refuted", "uncertain"]
    confidence: float = Field(ge=0, le=1)
    reason: str = ""
    evidence: str | None = None


class VerifierAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    verdicts: list[Verdict]


VERDICTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdicts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "verdict": {"type": "string", "enum": ["confirmed", "refuted", "uncertain"]},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "reason": {"type": "string"},
                    "evidence": {"type": ["string", "null"]},
                },
                "required": ["id", "verdict", "confidence", "reason"],
            },
        }
    },
    "required": ["verdicts"],
}


# -- rewriting a merge result ------------------------------------------------------------


def _normalise(text: str) -> str:
    return " ".join(text.split())


def reject(result: MergeResult, reasons: Mapping[str, str]) -> MergeResult:
    """Move whole merged findings to ``rejected``: one entry per original member."""
    if not reasons:
        return result
    rejected = list(result.rejected)
    for fid, reason in reasons.items():
        for member in result.members.get(fid, ()):
            rejected.append(
                RejectedFinding(
                    **member.finding.model_dump(), reviewer=member.reviewer, reason=reason
                )
            )
    kept = [f for f in result.findings if f.id not in reasons]
    members = {fid: m for fid, m in result.members.items() if fid not in reasons}
    return MergeResult(findings=_reranked(kept), rejected=rejected, members=members)


def _reranked(findings: list[ReviewFinding]) -> list[ReviewFinding]:
    return [f.model_copy(update={"rank": i}) for i, f in enumerate(findings, start=1)]


def _resorted(findings: list[ReviewFinding], mode: FilterMode) -> list[ReviewFinding]:
    factors = ANCHOR_FACTOR[mode]
    ordered = sorted(
        findings,
        key=lambda f: (
            factors.get(f.anchor, 1.0) < 1.0,
            -f.score,
            f.severity.order,
            f.path,
            f.line,
            f.id,
        ),
    )
    return _reranked(ordered)


# -- mechanical checks -----------------------------------------------------------------------


def quote_near(text: str, quote: str, first: int, last: int, window: int = EVIDENCE_WINDOW) -> bool:
    """Whether every non-blank line of ``quote`` appears in ``text`` near lines first..last."""
    lines = text.splitlines()
    lo, hi = max(0, first - 1 - window), min(len(lines), last + window)
    region = [_normalise(line) for line in lines[lo:hi]]
    wanted = [_normalise(q) for q in quote.splitlines() if q.strip()]
    joined = "\n".join(region)
    return all(any(w in line for line in region) or w in joined for w in wanted)


def _names_a_changed_line(finding: ReviewFinding, locator: LineLocator) -> bool:
    text = f"{finding.title} {finding.body}"
    for match in re.finditer(r"(?:line|L|:)\s*(\d{1,7})", text):
        if locator.locate(finding.path, int(match.group(1))) in (Anchor.ADDED, Anchor.CONTEXT):
            return True
    return False


_QUOTED = re.compile(r'"([^"\n]{8,})"|“([^”\n]{8,})”|`([^`\n]{8,})`|^>\s*(.{8,})$', re.MULTILINE)


def quotes_a_rule(finding: ReviewFinding, rules: Iterable[str]) -> bool:
    """Whether the finding quotes (in quotes, backticks or a > line) words of a guideline file."""
    corpus = [_normalise(r).lower() for r in rules]
    for match in _QUOTED.finditer(f"{finding.title}\n{finding.body}"):
        quote = _normalise(next(g for g in match.groups() if g)).lower().strip(" .")
        if quote and any(quote in text for text in corpus):
            return True
    return False


def mechanical_checks(
    result: MergeResult,
    texts: Mapping[str, str],
    locator: LineLocator,
    mode: FilterMode,
    *,
    rules: Iterable[str] = (),
) -> MergeResult:
    reasons: dict[str, str] = {}
    updated: list[ReviewFinding] = []
    rule_texts = list(rules)
    for finding in result.findings:
        if finding.reviewers == [GUIDELINES_REVIEWER] and not quotes_a_rule(finding, rule_texts):
            reasons[finding.id] = (
                "guidelines finding quotes no rule from the repository's guideline files"
            )
            continue
        text = texts.get(finding.path)
        quoted = (finding.evidence or "").strip()
        if (
            text is not None
            and quoted
            and not quote_near(text, quoted, finding.line, finding.last_line)
        ):
            reasons[finding.id] = (
                f"evidence not found in {finding.path} near line {finding.line}: {quoted[:80]!r}"
            )
            continue
        changes: dict[str, Any] = {}
        if text is not None and finding.suggestion is not None:
            current = text.splitlines()[finding.line - 1 : finding.last_line]
            if _normalise("\n".join(current)) == _normalise(finding.suggestion):
                changes["suggestion"] = None  # a "fix" that changes nothing is noise
        if finding.anchor is Anchor.FILE and not _names_a_changed_line(finding, locator):
            changes["score"] = round(finding.score * UNLINKED_FILE_FACTOR, 4)
        updated.append(finding.model_copy(update=changes) if changes else finding)
    trimmed = MergeResult(findings=updated, rejected=result.rejected, members=result.members)
    rejected = reject(trimmed, reasons)
    return replace(rejected, findings=_resorted(rejected.findings, mode))


# -- the verifier agent ------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyOptions:
    workdir: Path
    timeout_s: float = 300.0
    concurrency: int = 4
    batch: Literal["file", "finding"] = "file"


@dataclass
class _Batch:
    key: str
    path: str
    findings: list[ReviewFinding]
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    status: ReviewerStatus = ReviewerStatus.CANCELLED
    duration_s: float = 0.0
    model: str | None = None


def _numbered(text: str, findings: Sequence[ReviewFinding]) -> str:
    lines = text.splitlines()
    if len(lines) > MAX_CODE_LINES:
        centre = sum(f.line for f in findings) // len(findings)
        lo = max(0, centre - MAX_CODE_LINES // 2)
    else:
        lo = 0
    hi = min(len(lines), lo + MAX_CODE_LINES)
    width = len(str(hi))
    return "\n".join(f"{n:>{width}} | {lines[n - 1]}" for n in range(lo + 1, hi + 1))


def render_batch_prompt(batch: _Batch, text: str, file: DiffFile | None, nonce: str) -> str:
    shown = [
        f.model_dump(
            include={"id", "path", "line", "end_line", "severity", "category", "title", "body",
                     "evidence", "suggestion"}
        )
        for f in batch.findings
    ]  # fmt: skip
    return load_template("verifier").safe_substitute(
        path=shown_path(batch.path),
        findings=json.dumps(shown, indent=2, ensure_ascii=False),
        diff=render_file(file) if file is not None else "(not available)",
        code=_numbered(text, batch.findings) if text else "(file not readable)",
        nonce=nonce,
    )


def parse_verdicts(text: str, structured: dict[str, Any] | None) -> VerifierAnswer:
    payload: Any = structured
    if payload is None:
        raw = extract_json_text(text)
        if raw is None:
            raise AnswerError('- (root): no JSON object found; answer with {"verdicts": [...]}')
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise AnswerError(f"- (root): invalid JSON: {exc.msg}") from exc
    try:
        return VerifierAnswer.model_validate(payload)
    except ValidationError as exc:
        errors = "\n".join(
            f"- {'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors()[:20]
        )
        raise AnswerError(errors) from exc


def _evidence_exists(quote: str, texts: Mapping[str, str], workdir: Path) -> bool:
    wanted = [q.strip() for q in quote.splitlines() if q.strip()]
    if not wanted:
        return False
    if any(all(_normalise(w) in _normalise(t) for w in wanted) for t in texts.values()):
        return True
    # Elsewhere in the repository (a caller, a guard): git grep, fixed string, first line.
    try:
        done = subprocess.run(
            ["git", "-C", str(workdir), "grep", "-q", "-F", "-e", wanted[0]],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


async def _verify_batch(
    batch: _Batch,
    prompt: str,
    verifier: AgentSpec,
    runtime: Runtime,
    model: str | None,
    emit: EventSink,
    options: VerifyOptions,
    limiter: anyio.CapacityLimiter,
) -> None:
    spec = SessionSpec(
        key=batch.key,
        title=f"council verifier: {batch.path}",
        agent=verifier,
        model=model,
        workdir=options.workdir,
        output_schema=VERDICTS_SCHEMA,
    )
    started = time.monotonic()
    try:
        async with limiter:
            started = time.monotonic()
            with anyio.fail_after(options.timeout_s):
                async with runtime.open_session(spec, emit) as session:
                    turn = await session.prompt(prompt)
                    batch.usage, batch.model = turn.usage, turn.model
                    try:
                        answer = parse_verdicts(turn.text, turn.structured)
                    except AnswerError as first:
                        turn = await session.prompt(render_repair_prompt(first.errors, 0))
                        batch.usage = turn.usage
                        answer = parse_verdicts(turn.text, turn.structured)
        batch.verdicts = {v.id: v for v in answer.verdicts}
        batch.status = ReviewerStatus.OK
    except TimeoutError:
        batch.status, batch.error = (
            ReviewerStatus.TIMEOUT,
            f"timed out after {options.timeout_s:g}s",
        )
    except AnswerError as exc:
        batch.status, batch.error = ReviewerStatus.FAILED, f"invalid verdicts: {exc.errors}"
    except SessionError as exc:
        batch.status, batch.error = ReviewerStatus.FAILED, str(exc)
    finally:
        batch.duration_s = round(time.monotonic() - started, 3)
        emit(
            SessionFinished(
                batch.key, verifier.name, batch.status, len(batch.verdicts), batch.usage,
                batch.duration_s, batch.error,
            )
        )  # fmt: skip


async def run_verifier(
    result: MergeResult,
    *,
    verifier: AgentSpec,
    runtime: Runtime,
    runtime_name: str,
    model: str | None,
    texts: Mapping[str, str],
    files: Mapping[str, DiffFile],
    emit: EventSink,
    options: VerifyOptions,
    mode: FilterMode,
) -> tuple[MergeResult, ReviewerReport | None]:
    """Ask the verifier about every finding; returns the rewritten result and its report."""
    if not result.findings:
        return result, None
    groups: dict[str, list[ReviewFinding]] = defaultdict(list)
    for finding in result.findings:
        group = finding.path if options.batch == "file" else finding.id
        groups[group].append(finding)
    batches = [
        _Batch(key=f"verifier#{i}", path=items[0].path, findings=items)
        for i, (_, items) in enumerate(sorted(groups.items()), start=1)
    ]
    limiter = anyio.CapacityLimiter(options.concurrency)
    for batch in batches:
        emit(SessionQueued(batch.key, verifier.name, runtime_name, 0, 1, (batch.path,)))
    async with anyio.create_task_group() as tg:
        for batch in batches:
            prompt = render_batch_prompt(
                batch, texts.get(batch.path, ""), files.get(batch.path), new_nonce()
            )
            tg.start_soon(
                _verify_batch, batch, prompt, verifier, runtime, model, emit, options, limiter
            )
    reasons: dict[str, str] = {}
    verdicts: dict[str, str] = {}
    for batch in batches:
        for finding in batch.findings:
            verdict = batch.verdicts.get(finding.id)
            if verdict is None:
                continue
            if verdict.verdict == "refuted":
                has_evidence = bool(verdict.evidence) and await anyio.to_thread.run_sync(
                    _evidence_exists, verdict.evidence or "", texts, options.workdir
                )
                if has_evidence:
                    reasons[finding.id] = (
                        f"{REFUTED_REASON}: {verdict.reason.strip()} "
                        f"(evidence: {(verdict.evidence or '').strip()[:120]!r})"
                    )
                    continue
                verdicts[finding.id] = "uncertain"  # a refutation without evidence does not count
            else:
                verdicts[finding.id] = verdict.verdict
    findings = [
        f.model_copy(update={"verdict": verdicts[f.id]}) if f.id in verdicts else f
        for f in result.findings
    ]
    rewritten = reject(replace(result, findings=findings), reasons)
    return replace(rewritten, findings=_resorted(rewritten.findings, mode)), _report(
        verifier.name, runtime_name, model, batches
    )


def _report(
    agent: str, runtime: str, model: str | None, batches: Sequence[_Batch]
) -> ReviewerReport:
    usage = sum((b.usage for b in batches), Usage())
    bad = [b for b in batches if b.status is not ReviewerStatus.OK]
    errors = sorted({b.error or b.status.value for b in bad})
    return ReviewerReport(
        agent=agent,
        runtime=runtime,
        model=next((b.model for b in batches if b.model), model),
        status=bad[0].status if bad else ReviewerStatus.OK,
        sessions=len(batches),
        duration_s=round(max(b.duration_s for b in batches), 3),
        tokens_in=usage.tokens_in,
        tokens_out=usage.tokens_out,
        cost_usd=round(usage.cost_usd, 6),
        findings=sum(len(b.verdicts) for b in batches),
        error=(
            f"{len(bad)} of {len(batches)} sessions failed (findings kept): " + "; ".join(errors)
        )
        if bad
        else None,
    )
