"""Incremental re-review through the CLI: after one file changes, only it is sent again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.council_run import council_env, run_council
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.gitrepo import make_repo


def finding(path: str, title: str) -> dict[str, object]:
    return {
        "path": path,
        "line": 2,
        "severity": "medium",
        "category": "security",
        "title": title,
        "body": "A remark.",
        "confidence": 0.9,
    }


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(default=Reply.text('{"findings": []}')) as server:
        yield server


def test_a_re_review_sends_only_the_changed_file_and_keeps_the_rest(
    tmp_path: Path, model: ScriptedModelServer
) -> None:
    repo = make_repo(tmp_path / "repo")
    for name in ("a.py", "b.py", "c.py"):
        repo.write(name, "def f(x):\n    return x\n")
    repo.commit("base")
    for name in ("a.py", "b.py", "c.py"):
        repo.write(name, f"def f(x):\n    return x + {name[0]!r}\n")
    model.reset(
        [
            Rule(
                "### a.py",
                Reply.structured(
                    {"findings": [finding("c.py", "Problem in c"), finding("a.py", "Problem in a")]}
                ),
            ),
            Rule("### b.py", Reply.structured({"findings": [finding("b.py", "New problem in b")]})),
        ]
    )
    env = council_env(tmp_path / "council", model.base_url)
    env.update(OPENAI_BASE_URL=model.openai_base_url, OPENAI_API_KEY="x")
    args = ["review", "--runtime", "openai", "--model", "openai/m", "--agents", "security"]
    args += ["--format", "json"]

    first = run_council(args, cwd=repo.root, env=env)
    assert first.code == 0, first.stderr
    assert len(model.model_requests) == 1  # one chunk holds all three files
    assert sorted(f["title"] for f in first.json()["findings"]) == ["Problem in a", "Problem in c"]

    repo.write("b.py", "def f(x):\n    return x + 'changed'\n")
    second = run_council(args, cwd=repo.root, env=env)
    assert second.code == 0, second.stderr
    assert len(model.model_requests) == 2
    sent = json.dumps(model.model_requests[-1].body)
    assert "### b.py" in sent
    assert "### a.py" not in sent
    assert "### c.py" not in sent
    doc = second.json()
    assert sorted(f["title"] for f in doc["findings"]) == [
        "New problem in b",
        "Problem in a",
        "Problem in c",
    ]
    (reviewer,) = doc["reviewers"]
    assert reviewer["status"] == "ok"
    assert reviewer["sessions"] == 1

    # The store off: all three files go out again.
    fresh = run_council([*args, "--no-cache"], cwd=repo.root, env=env)
    assert fresh.code == 0, fresh.stderr
    assert "### a.py" in json.dumps(model.model_requests[-1].body)
