"""The result store: hits, misses, invalidation by every key part, per-file reuse, expiry,
caps, corruption."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from string import Template

import pytest

from coordinator import prompts
from coordinator.agents import load_roster
from coordinator.diff import parse_unified_diff
from coordinator.diff.model import Diff
from coordinator.findings import Finding
from coordinator.planning import Assignment, plan_review
from coordinator.result_store import ResultStore, file_key

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


def test_hit_after_remember_even_with_a_new_random_fence(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite3")
    first, second = assignment(), assignment()
    assert first.nonce != second.nonce  # each plan draws a fresh data-fence tag
    assert not store.recall(first).complete
    store.remember(first, [FINDING], "fake/m")
    got = store.recall(second)
    assert got.complete
    assert got.findings == [FINDING]
    assert got.model == "fake/m"


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
            a, agent=dataclasses.replace(a.agent, max_findings=3)
        ),  # output contract (findings cap)
    ],
)
def test_any_key_part_changing_misses(tmp_path: Path, change: object) -> None:
    store = ResultStore(tmp_path / "r.sqlite3")
    base = assignment()
    store.remember(base, [FINDING], "fake/m")
    changed = change(base)  # type: ignore[operator]
    file = base.chunk.files[0]
    assert file_key(changed, changed.chunk.files[0]) != file_key(base, file)
    assert [f.path for f in store.recall(changed).missing] == ["a.py"]


def test_entries_expire_and_are_capped(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite3", max_age_s=0.2, max_entries=2)
    a = assignment()
    store.remember(a, [FINDING], None)
    time.sleep(0.3)
    assert not store.recall(a).complete
    keys = [assignment(PATCH.replace("y = 2", f"y = {n}")) for n in range(5)]
    store.max_age_s = 3600
    for item in keys:
        store.remember(item, [FINDING], None)
    kept = [k for k in keys if store.recall(k).complete]
    assert kept == keys[-2:]  # the oldest go first


def test_a_corrupt_store_is_rebuilt_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = ResultStore(path)
    a = assignment()
    assert not store.recall(a).complete
    store.remember(a, [FINDING], None)
    assert store.recall(a).complete
    path.write_bytes(b"corrupted again" * 100)  # under an open connection
    store.close()
    assert not ResultStore(path).recall(a).complete


@pytest.mark.parametrize("template", ["review", "review_instructions", "output_contract"])
def test_the_templates_are_part_of_the_key(monkeypatch: pytest.MonkeyPatch, template: str) -> None:
    a = assignment()
    before = file_key(a, a.chunk.files[0])
    load = prompts.load_template
    edited = Template(load(template).template + "!")
    monkeypatch.setattr(
        prompts, "load_template", lambda name: edited if name == template else load(name)
    )
    prompts.render_review_instructions.cache_clear()
    try:
        assert file_key(a, a.chunk.files[0]) != before
    finally:
        prompts.render_review_instructions.cache_clear()


# ------------------------------------------------------------------ per-file reuse

FILES = {f"pkg/m{i}.py": [f"v{i} = {i}"] for i in range(6)}


def patch_of(files: dict[str, list[str]]) -> str:
    out = []
    for path, added in files.items():
        out.append(
            f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
            f"@@ -1 +1,{len(added) + 1} @@\n x = 1\n" + "".join(f"+{line}\n" for line in added)
        )
    return "".join(out)


def plan_of(files: dict[str, list[str]], chunk_tokens: int) -> list[Assignment]:
    diff = Diff(files=parse_unified_diff(patch_of(files)), source="test")
    return list(
        plan_review(
            diff,
            load_roster(None).select(["security"]),
            chunk_tokens=chunk_tokens,
            runtime_for=lambda a: "opencode",
            model_for=lambda a: "fake/m",
            guidelines={},
        ).assignments
    )


def finding_on(path: str, title: str = "t") -> Finding:
    return FINDING.model_copy(update={"path": path, "line": 2, "title": title})


def test_one_changed_file_leaves_only_that_file_to_review(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite3")
    (first,) = plan_of(FILES, 10_000)
    said = [
        finding_on("pkg/m3.py", "a"),
        finding_on("pkg/m0.py", "b"),
        finding_on("pkg/m3.py", "c"),
    ]
    store.remember(first, said, "fake/m")
    changed = {**FILES, "pkg/m3.py": ["v3 = 'changed'", "w = 1"]}
    (second,) = plan_of(changed, 10_000)
    got = store.recall(second)
    assert [f.path for f in got.missing] == ["pkg/m3.py"]
    assert got.findings == [said[1]]  # what was said about the unchanged files only


def test_reuse_does_not_depend_on_how_files_were_packed(tmp_path: Path) -> None:
    """Answers from one big chunk serve a plan of many small ones, in the original order."""
    store = ResultStore(tmp_path / "r.sqlite3")
    (whole,) = plan_of(FILES, 10_000)
    said = [finding_on(p, p) for p in reversed(list(FILES))]
    store.remember(whole, said, None)
    parts = plan_of(FILES, 60)
    assert len(parts) > 1
    assert all(store.recall(p).complete for p in parts)
    assert [f for p in parts for f in store.recall(p).findings] == [
        f for p in parts for f in said if f.path in p.chunk.paths
    ]
    assert [part.chunk_count for part in parts] == [len(parts)] * len(parts)


def test_a_finding_on_a_path_outside_the_chunk_is_kept(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite3")
    (a,) = plan_of(FILES, 10_000)
    said = [finding_on("elsewhere.py"), finding_on("pkg/m1.py")]
    store.remember(a, said, None)
    assert store.recall(a).findings == said


def test_a_new_file_in_the_change_leaves_the_other_files_answers_valid(tmp_path: Path) -> None:
    # Each part's session gets the change's file list (tests/test_prompts.py); a push
    # that adds a file changes that list, but not the unchanged files' keys.
    parts = plan_of(FILES, 60)
    assert len(parts) > 2
    assert all("- pkg/m5.py" in part.overview for part in parts)
    store = ResultStore(tmp_path / "r.sqlite3")
    for part in parts:
        store.remember(part, [finding_on(part.chunk.paths[0])], None)
    grown = plan_of({**FILES, "pkg/new.py": ["n = 1"]}, 60)
    missing = [f.path for part in grown for f in store.recall(part).missing]
    assert missing == ["pkg/new.py"]
