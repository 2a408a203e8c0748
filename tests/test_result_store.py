"""The result store: hits, misses, invalidation by every key part, expiry, caps, corruption."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from coordinator.agents import load_roster
from coordinator.diff import parse_unified_diff
from coordinator.diff.model import Diff
from coordinator.events import Usage
from coordinator.findings import Finding
from coordinator.planning import Assignment, plan_review
from coordinator.result_store import ResultStore, StoredAnswer, assignment_key

PATCH = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1,2 @@\n x = 1\n+y = 2\n"
FINDING = Finding(
    path="a.py", line=2, severity="low", category="c", title="t", body="b", confidence=0.5
)


def assignment(
    patch: str = PATCH, guidelines: dict[str, str] | None = None, model: str = "fake/m"
) -> Assignment:
    diff = Diff(files=parse_unified_diff(patch), source="test")
    plan = plan_review(
        diff,
        load_roster(None).select(["security"]),
        chunk_tokens=10_000,
        runtime_for=lambda a: "opencode",
        model_for=lambda a: model,
        guidelines=guidelines or {},
    )
    return plan.assignments[0]


def answer() -> StoredAnswer:
    return StoredAnswer([FINDING], Usage(10, 2, 0.01), "fake/m")


def test_hit_after_put_even_with_a_new_random_fence(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite3")
    first, second = assignment(), assignment()
    assert first.nonce != second.nonce  # each plan draws a fresh data-fence tag
    assert store.get(first) is None
    store.put(first, answer())
    got = store.get(second)
    assert got is not None
    assert got.findings == [FINDING]
    assert got.usage == Usage(10, 2, 0.01)


@pytest.mark.parametrize(
    "change",
    [
        lambda a: assignment(PATCH.replace("y = 2", "y = 3")),  # chunk text
        lambda a: assignment(guidelines={"AGENTS.md": "Always use tabs."}),  # guidelines
        lambda a: assignment(model="fake/other"),  # model
        lambda a: dataclasses.replace(a, runtime="openai"),  # runtime
        lambda a: dataclasses.replace(
            a, agent=dataclasses.replace(a.agent, prompt=a.agent.prompt + "!")
        ),  # reviewer
        lambda a: dataclasses.replace(
            a, prompt=a.prompt.replace("Code review", "Code review!")
        ),  # templates
    ],
)
def test_any_key_part_changing_misses(tmp_path: Path, change: object) -> None:
    store = ResultStore(tmp_path / "r.sqlite3")
    base = assignment()
    store.put(base, answer())
    changed = change(base)  # type: ignore[operator]
    assert assignment_key(changed) != assignment_key(base)
    assert store.get(changed) is None


def test_entries_expire_and_are_capped(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite3", max_age_s=0.2, max_entries=2)
    a = assignment()
    store.put(a, answer())
    time.sleep(0.3)
    assert store.get(a) is None
    keys = [assignment(PATCH.replace("y = 2", f"y = {n}")) for n in range(5)]
    store.max_age_s = 3600
    for item in keys:
        store.put(item, answer())
    kept = [k for k in keys if store.get(k) is not None]
    assert len(kept) == 2


def test_a_corrupt_store_is_rebuilt_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = ResultStore(path)
    a = assignment()
    assert store.get(a) is None
    store.put(a, answer())
    assert store.get(a) is not None
