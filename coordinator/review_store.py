"""Whole reviews remembered by the content of what was reviewed.

A repeated ``git push`` of the same range, or ``council review`` run twice on an
unchanged tree, answers from here without planning a single session or starting
a runtime. It sits beside (not inside) the per-assignment result store of the
session runner: this one skips the runner altogether, so it answers in the time
it takes to read the diff.

The key hashes everything that shapes the review: the diff (base and head
commits and every hunk line), each reviewer's definition with the runtime and
model it would run on, the guideline files that apply, the prompt templates,
the project's ``.council/`` files (reviewers, dismissals), council's version,
and every setting but those that cannot change the findings (output format,
concurrency, ...). ``--fail-on`` is left out: the summary is recomputed for the
current threshold on every reuse.

Only complete reviews are stored (every reviewer finished, nothing cut by the
budget or a failure), so a flaky reviewer is never remembered as a verdict. A
store that cannot be read or written is skipped, never fatal: it is a cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio
from pydantic import ValidationError

from coordinator import __version__
from coordinator.config import ReviewSettings
from coordinator.events import EventSink
from coordinator.guidelines import collect_guidelines
from coordinator.pipeline import PreparedReview
from coordinator.resources import prompts_dir
from coordinator.review import Review, ReviewerStatus, summarise
from coordinator.session import SessionControls

KEY_VERSION = 1
MAX_STORED_REVIEWS = 500
MAX_AGE_S = 30 * 24 * 3600
_REUSABLE = (ReviewerStatus.OK, ReviewerStatus.CACHED, ReviewerStatus.SKIPPED)
_INCOMPLETE_REASONS = ("failed", "budget")
PROJECT_DIR = ".council"
# Settings that cannot change what the stored review says; every other one is in the key,
# so a setting added later invalidates stored reviews rather than being ignored.
_NOT_IN_KEY = frozenset(
    {
        "fail_on",  # the summary is recomputed on reuse
        "output_format",
        "cache",
        "concurrency",
        "timeout_s",  # a review that timed out is not stored
        "budget_usd",  # nor one cut short by the budget
        "opencode_url",
        "strict_hook",
        "max_comments",
    }
)


def default_reviews_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "council" / "reviews"


def _project_files(repo: Path) -> dict[str, str]:
    """``.council/`` (reviewers, dismissals): project data that changes what a review keeps."""
    folder = repo / PROJECT_DIR
    found: dict[str, str] = {}
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            with contextlib.suppress(OSError):
                found[path.relative_to(folder).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return found


def review_key(prepared: PreparedReview, settings: ReviewSettings) -> str:
    """Hash of everything that shapes the review of ``prepared`` (reads guideline files)."""
    plan = prepared.plan
    diff = prepared.diff
    runs = sorted({(a.agent.name, a.runtime, a.model or "") for a in plan.assignments})
    material = {
        "v": KEY_VERSION,
        "council": __version__,
        "diff": {
            "base": diff.base,
            "head": diff.head,
            "files": [dataclasses.asdict(f) for f in diff.files],
        },
        "agents": [
            {k: v for k, v in dataclasses.asdict(agent).items() if k != "source"}
            for agent in plan.agents
        ],
        "runs": runs,
        "guidelines": collect_guidelines(prepared.repo, [f.path for f in diff.files]),
        "templates": {
            p.name: p.read_text(encoding="utf-8") for p in sorted(prompts_dir().glob("*.md"))
        },
        "project": _project_files(prepared.repo),
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k not in _NOT_IN_KEY},
    }
    blob = json.dumps(material, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def is_reusable(review: Review) -> bool:
    """Complete: every reviewer finished and no path went unreviewed for a transient reason."""
    return (
        bool(review.reviewers)
        and all(r.status in _REUSABLE for r in review.reviewers)
        and not any(u.reason in _INCOMPLETE_REASONS for u in review.unreviewed)
    )


class ReviewStore:
    """One JSON file per review key; old and surplus files are pruned on write."""

    def __init__(
        self,
        folder: Path,
        *,
        max_reviews: int = MAX_STORED_REVIEWS,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = folder
        self.max_reviews = max_reviews
        self.max_age_s = max_age_s
        self._clock = clock

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> Review | None:
        path = self._path(key)
        try:
            if self._clock() - path.stat().st_mtime > self.max_age_s:
                return None
            return Review.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError):
            return None  # missing, unreadable or from another version: a miss

    def save(self, key: str, review: Review) -> None:
        data = review.model_dump_json().encode("utf-8")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Write then rename: a concurrent reader sees the old file or the new, never half.
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._path(key))
            self._prune()
        except OSError:
            return

    def _prune(self) -> None:
        now = self._clock()
        entries: list[tuple[float, Path]] = []
        for path in self.folder.glob("*.json"):
            with contextlib.suppress(OSError):
                entries.append((path.stat().st_mtime, path))
        entries.sort(reverse=True)
        for i, (mtime, path) in enumerate(entries):
            if i >= self.max_reviews or now - mtime > self.max_age_s:
                with contextlib.suppress(OSError):
                    path.unlink()


def as_reused(review: Review, settings: ReviewSettings) -> Review:
    """A stored review as this run reports it: reviewers ``cached``, summary for today's fail-on."""
    reviewers = [
        r.model_copy(update={"status": ReviewerStatus.CACHED})
        if r.status is ReviewerStatus.OK
        else r
        for r in review.reviewers
    ]
    return review.model_copy(
        update={
            "reviewers": reviewers,
            "summary": summarise(review.findings, settings.fail_on),
        }
    )


async def run_or_reuse(
    prepared: PreparedReview,
    settings: ReviewSettings,
    env: Mapping[str, str],
    emit: EventSink,
    *,
    stop: anyio.Event | None = None,
    controls: SessionControls | None = None,
    on_runtimes_ready: Callable[[], None] | None = None,
    store: ReviewStore | None = None,
    on_reuse: Callable[[], None] | None = None,
) -> Review:
    """``run_prepared`` behind the review store (unless ``settings.cache`` is off).

    A reused review starts nothing: ``on_reuse`` is called instead of ``on_runtimes_ready``.
    """
    from coordinator.runner import run_prepared  # the runtimes load only when a review runs

    if store is None and settings.cache:
        store = ReviewStore(default_reviews_dir(env))
    key: str | None = None
    if store is not None and prepared.plan.assignments:
        key = await anyio.to_thread.run_sync(review_key, prepared, settings)
        stored = await anyio.to_thread.run_sync(store.load, key)
        if stored is not None:
            if on_reuse is not None:
                on_reuse()
            return as_reused(stored, settings)
    review = await run_prepared(
        prepared,
        settings,
        env,
        emit,
        stop=stop,
        controls=controls,
        on_runtimes_ready=on_runtimes_ready,
    )
    stopped = stop is not None and stop.is_set()
    if store is not None and key is not None and not stopped and is_reusable(review):
        await anyio.to_thread.run_sync(store.save, key, review)
    return review
