"""The whole-review store behind the hook and `council review`: keys, files, reuse."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from coordinator.config import ReviewSettings
from coordinator.diff.sources import DiffRequest
from coordinator.events import discard
from coordinator.findings import Anchor, ReviewFinding, Severity, Unreviewed
from coordinator.pipeline import PreparedReview
from coordinator.review import (
    DiffSummary,
    FailOn,
    Review,
    ReviewerReport,
    ReviewerStatus,
    summarise,
)
from coordinator.review_store import (
    ReviewStore,
    as_reused,
    default_reviews_dir,
    is_reusable,
    review_key,
    run_or_reuse,
)
from coordinator.runner import plan_review_for
from tests.council_run import council_env, run_council
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.gitrepo import GitRepo, one_line_change

SETTINGS = ReviewSettings(runtime="openai", model="openai/m", agents=("security",))


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return one_line_change(tmp_path)


def prepare(repo: GitRepo, settings: ReviewSettings = SETTINGS) -> PreparedReview:
    async def go() -> PreparedReview:
        return await plan_review_for(repo.root, DiffRequest(), settings, {})

    return anyio.run(go)


def a_review(status: ReviewerStatus = ReviewerStatus.OK, fail_on: FailOn = FailOn.HIGH) -> Review:
    finding = ReviewFinding(
        id="f" * 16,
        rank=1,
        score=0.5,
        path="app.py",
        line=2,
        severity=Severity.MEDIUM,
        category="correctness",
        title="Off by one",
        confidence=0.8,
        reviewers=["security"],
        anchor=Anchor.ADDED,
    )
    report = ReviewerReport(
        agent="security",
        runtime="openai",
        model="openai/m",
        status=status,
        sessions=1,
        duration_s=1.0,
        tokens_in=1,
        tokens_out=1,
        cost_usd=0.0,
        findings=1,
    )
    return Review(
        diff=DiffSummary(base=None, head=None, files=1, additions=1, deletions=1),
        reviewers=[report],
        findings=[finding],
        rejected=[],
        unreviewed=[],
        summary=summarise([finding], fail_on),
    )


def test_the_key_follows_what_was_reviewed_and_nothing_else(repo: GitRepo) -> None:
    key = review_key(prepare(repo), SETTINGS)
    assert review_key(prepare(repo), SETTINGS) == key  # planning again: same key
    for harmless in (
        dataclasses.replace(SETTINGS, fail_on=FailOn.CRITICAL),
        dataclasses.replace(SETTINGS, concurrency=2, timeout_s=5.0, output_format="json"),
    ):
        assert review_key(prepare(repo, harmless), harmless) == key
    stricter = dataclasses.replace(SETTINGS, filter_mode="added")
    assert review_key(prepare(repo, stricter), stricter) != key
    other_model = dataclasses.replace(SETTINGS, model="openai/other")
    assert review_key(prepare(repo, other_model), other_model) != key
    repo.write(".council/dismissed.toml", "# nothing yet\n")
    assert review_key(prepare(repo), SETTINGS) != key
    (repo.root / ".council" / "dismissed.toml").unlink()
    repo.write("AGENTS.md", "Use tabs.\n")
    assert review_key(prepare(repo), SETTINGS) != key
    (repo.root / "AGENTS.md").unlink()
    repo.write("app.py", "def f(x):\n    return x + 2\n")
    assert review_key(prepare(repo), SETTINGS) != key


def test_store_round_trip_corruption_expiry_and_pruning(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = ReviewStore(tmp_path / "reviews", max_reviews=3, max_age_s=100, clock=lambda: now[0])
    review = a_review()
    store.save("k1", review)
    assert store.load("k1") == review
    assert store.load("missing") is None
    (tmp_path / "reviews" / "bad.json").write_text("{not json")
    assert store.load("bad") is None
    for n in range(2, 7):
        store.save(f"k{n}", review)
        path = tmp_path / "reviews" / f"k{n}.json"
        os.utime(path, (now[0] + n, now[0] + n))
    store.save("k7", review)
    assert len(list((tmp_path / "reviews").glob("*.json"))) == 3
    now[0] = time.time() + 1000
    assert store.load("k7") is None  # expired


def test_only_complete_reviews_are_reusable() -> None:
    assert is_reusable(a_review())
    assert not is_reusable(a_review(ReviewerStatus.FAILED))
    assert not is_reusable(a_review(ReviewerStatus.TIMEOUT))
    cut = a_review().model_copy(
        update={"unreviewed": [Unreviewed(path="app.py", reason="budget", detail="x")]}
    )
    assert not is_reusable(cut)


def test_a_reused_review_is_marked_cached_and_judged_by_todays_fail_on() -> None:
    stored = a_review(fail_on=FailOn.NEVER)
    reused = as_reused(stored, dataclasses.replace(SETTINGS, fail_on=FailOn.MEDIUM))
    assert reused.reviewers[0].status is ReviewerStatus.CACHED
    assert reused.summary.failed
    assert reused.summary.fail_on is FailOn.MEDIUM


def test_a_stored_review_starts_no_runtime(repo: GitRepo, tmp_path: Path) -> None:
    prepared = prepare(repo)
    store = ReviewStore(tmp_path / "reviews")
    store.save(review_key(prepared, SETTINGS), a_review())
    reused: list[bool] = []

    async def go() -> Review:
        # No OPENAI_BASE_URL: a runtime that started would try api.openai.com (the guard fails it).
        return await run_or_reuse(
            prepared, SETTINGS, {}, discard, store=store, on_reuse=lambda: reused.append(True)
        )

    review = anyio.run(go)
    assert reused == [True]
    assert review.findings[0].title == "Off by one"


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(default=Reply.text('{"findings": []}')) as server:
        yield server


def test_council_review_reuses_a_stored_review_unless_no_cache(
    repo: GitRepo, tmp_path: Path, model: ScriptedModelServer
) -> None:
    model.reset([Rule("# Code review: security", Reply.structured({"findings": []}))])
    env = council_env(tmp_path / "council", model.base_url)
    env.update(OPENAI_BASE_URL=model.openai_base_url, OPENAI_API_KEY="x")
    args = ["review", "--runtime", "openai", "--model", "openai/m", "--agents", "security"]
    first = run_council([*args, "--format", "json"], cwd=repo.root, env=env)
    assert first.code == 0, first.stderr
    asked = len(model.model_requests)
    assert asked > 0
    assert list(default_reviews_dir(env).glob("*.json"))
    second = run_council([*args, "--format", "json"], cwd=repo.root, env=env)
    assert second.code == 0, second.stderr
    assert len(model.model_requests) == asked
    assert {r["status"] for r in second.json()["reviewers"]} == {"cached"}
    fresh = run_council([*args, "--format", "json", "--no-cache"], cwd=repo.root, env=env)
    assert fresh.code == 0, fresh.stderr
    assert len(model.model_requests) > asked
    assert {r["status"] for r in fresh.json()["reviewers"]} == {"ok"}
