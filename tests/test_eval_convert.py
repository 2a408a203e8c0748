"""``eval/from_fix_commits.py``: a public bug dataset's buggy/fixed pairs become eval cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from coordinator.cli import main
from coordinator.evaluation.dataset import load_dataset
from tests.gitrepo import isolate_git, make_repo

CONVERTER = Path(__file__).resolve().parent.parent / "eval" / "from_fix_commits.py"

BUGGY = "def mean(xs):\n    total = 0\n    for x in xs[1:]:\n        total += x\n    return total / len(xs)\n"
FIXED = (
    "def mean(xs):\n"
    "    if not xs:\n"
    "        return 0.0\n"
    "    total = 0\n"
    "    for x in xs:\n"
    "        total += x\n"
    "    return total / len(xs)\n"
)


def test_fix_commits_become_reverse_fix_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = isolate_git(monkeypatch, tmp_path)
    repo = make_repo(tmp_path / "bugs", "projects/stats")
    repo.write("stats.py", BUGGY)
    buggy = repo.commit("mean")
    repo.write("stats.py", FIXED)
    fixed = repo.commit("fix mean: empty input, first element")
    bugs = tmp_path / "bugs" / "bugs.jsonl"
    bug = {
        "id": "stats-1",
        "repo": "projects/stats",
        "buggy": buggy,
        "fixed": fixed,
        "description": "mean() skips the first element and divides by zero on []",
    }
    bugs.write_text(json.dumps(bug) + "\n")
    out = tmp_path / "dataset" / "cases.jsonl"
    done = subprocess.run(
        [sys.executable, str(CONVERTER), str(bugs), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    case = json.loads(out.read_text())
    assert (case["repo"], case["base"], case["head"]) == ("../bugs/projects/stats", fixed, buggy)
    assert case["meta"] == {"buggy": buggy, "fixed": fixed}
    # The buggy file has no line where the fix added its guard: that issue sits on the line
    # before the gap (1). The loop the fix changed is buggy line 3.
    assert [(g["path"], g["line"], g.get("end_line")) for g in case["golden"]] == [
        ("stats.py", 1, None),
        ("stats.py", 3, None),
    ]
    dataset = load_dataset(out)
    assert dataset.golden_count == 2

    assert main(["eval", str(out), "--dry-run", "--format", "json", "--agents", "tests"]) == 0
    plan = json.loads(capsys.readouterr().out)["cases"][0]
    assert [g["anchor"] for g in plan["golden"]] == ["context", "added"]
