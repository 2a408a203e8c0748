"""The shipped ``classic-defects`` dataset: up to date with its generator, and consistent.

Consistent means: every case materialises (the patch applies to its base tree),
every golden issue sits on lines the change added, and an oracle reviewer that
reports exactly the golden issues scores precision and recall 1.0 through the
real CLI — so the labels and the pipeline agree on paths and line numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.cli import main
from coordinator.evaluation.dataset import load_dataset
from tests.council_run import run_council
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.gitrepo import git_env, isolate_git

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASET = REPO_ROOT / "eval" / "datasets" / "classic-defects"
GENERATOR = REPO_ROOT / "eval" / "build_dataset.py"


def test_committed_dataset_is_what_the_generator_writes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        env=git_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_dataset_shape() -> None:
    dataset = load_dataset(DATASET)
    assert len(dataset.cases) >= 12
    assert dataset.golden_count >= 10
    assert sum(1 for c in dataset.cases if not c.golden) >= 2  # clean cases measure precision
    assert all(c.patch is not None and c.base_tree is not None for c in dataset.cases)
    classes = {json.loads(line)["meta"]["class"] for line in dataset.path.read_text().splitlines()}
    assert {"sql-injection", "path-traversal", "missing-await", "race-condition"} <= classes


def test_every_case_materialises_and_every_golden_issue_is_on_added_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    code = main(["eval", str(DATASET), "--dry-run", "--format", "json", "--agents", "security"])
    out, err = capsys.readouterr()
    assert code == 0, err
    plans = json.loads(out)["cases"]
    assert len(plans) == len(load_dataset(DATASET).cases)
    for plan in plans:
        assert plan["sessions"] == 1, plan
        assert plan["files"] >= 1
        assert all(g["anchor"] == "added" for g in plan["golden"]), plan


def oracle_rules() -> list[Rule]:
    """For each case, a reviewer answer holding exactly its golden issues."""
    rules = []
    for case in load_dataset(DATASET).cases:
        if not case.golden:
            continue
        findings: list[dict[str, Any]] = [
            {
                "path": g.path,
                "line": g.line,
                "end_line": g.end_line,
                "severity": g.severity.value if g.severity else "high",
                "category": "correctness",
                "title": g.description.split(":")[0][:80],
                "body": g.description,
                "confidence": 0.9,
            }
            for g in case.golden
        ]
        path = case.golden[0].path
        rules.append(
            Rule(
                "# Code review: correctness",
                Reply.structured({"findings": findings}),
                when=lambda req, path=path: f"{path} (" in req.text,
            )
        )
    return rules


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(oracle_rules()) as server:
        yield server


def test_an_oracle_reviewer_scores_perfectly(tmp_path: Path, model: ScriptedModelServer) -> None:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "OPENAI_", "COUNCIL_"))
    }
    env = git_env(tmp_path / "home", base)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        OPENAI_BASE_URL=model.openai_base_url,
        OPENAI_API_KEY="sk-fake",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    result = run_council(
        [
            "eval",
            str(DATASET),
            "--runtime",
            "openai",
            "--model",
            "openai/m",
            "--agents",
            "correctness",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert result.code == 0, result.stderr
    doc = result.json()
    golden = load_dataset(DATASET).golden_count
    totals = {r["name"]: r for r in doc["totals"]["rows"]}
    for name in ("correctness", "merged"):
        row = totals[name]
        assert (row["tp"], row["fp"], row["fn"]) == (golden, 0, 0), doc
        assert (row["precision"], row["recall"], row["f1"]) == (1.0, 1.0, 1.0)
    # The reviewers never see the case ids or descriptions (they often name the defect).
    for request in model.model_requests:
        for case in load_dataset(DATASET).cases:
            assert case.id not in request.text
            assert (case.description or "") not in request.text
