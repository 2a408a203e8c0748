"""The CLI's contract without a model: exit codes, messages, agents, dry runs, config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.council_run import processes_in, run_council
from tests.gitrepo import GitRepo, git_env, one_line_change


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return one_line_change(tmp_path)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = git_env(tmp_path / "home")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(var, None)
    return env


def test_unknown_agent_exits_2_listing_known_ones(repo: GitRepo, env: dict[str, str]) -> None:
    result = run_council(
        ["review", "--agents", "security,nope", "--dry-run"], cwd=repo.root, env=env
    )
    assert result.code == 2
    assert "unknown agent(s): nope" in result.stderr
    assert "correctness" in result.stderr
    assert "maintainability" in result.stderr


def test_bad_flag_value_exits_2(repo: GitRepo, env: dict[str, str]) -> None:
    result = run_council(["review", "--fail-on", "sometimes"], cwd=repo.root, env=env)
    assert result.code == 2
    assert "invalid choice: 'sometimes'" in result.stderr


def test_bad_config_file_exits_2_naming_the_file(repo: GitRepo, env: dict[str, str]) -> None:
    repo.write(".council.toml", "concurrency = 0\n")
    result = run_council(["review", "--dry-run"], cwd=repo.root, env=env)
    assert result.code == 2
    assert ".council.toml: invalid concurrency 0" in result.stderr


def test_no_runtime_available_exits_2_saying_how_to_fix(
    repo: GitRepo, env: dict[str, str], tmp_path: Path
) -> None:
    env["PATH"] = "/usr/bin:/bin"  # git, but no opencode
    env.pop("COUNCIL_OPENCODE_BIN", None)
    result = run_council(["review"], cwd=repo.root, env=env)
    assert result.code == 2
    assert "no agent runtime available" in result.stderr
    assert "npm install -g opencode-ai" in result.stderr


def test_unknown_ref_exits_2_with_gits_reason(repo: GitRepo, env: dict[str, str]) -> None:
    result = run_council(["review", "--dry-run", "nope..HEAD"], cwd=repo.root, env=env)
    assert result.code == 2
    assert "nope" in result.stderr


def test_dry_run_json_plan_from_stdin_patch(repo: GitRepo, env: dict[str, str]) -> None:
    patch = repo.git("diff")
    result = run_council(
        ["review", "--dry-run", "--format", "json", "--patch", "-", "--agents", "security,tests"],
        cwd=repo.root,
        env=env,
        stdin=patch,
    )
    assert result.code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [(a["agent"], a["files"]) for a in plan["assignments"]] == [
        ("security", ["app.py"]),
        ("tests", ["app.py"]),
    ]
    assert all(a["estimated_tokens"] > 100 for a in plan["assignments"])
    assert processes_in(repo.root) == []


def test_group_tokens_sets_how_many_files_share_a_session(
    repo: GitRepo, env: dict[str, str]
) -> None:
    big = "".join(
        f"value_{i} = compute({i}, 'a fairly long argument string')\n" for i in range(120)
    )
    repo.write("lib/big.py", "x = 0\n")
    repo.write("lib/small_a.py", "a = 0\n")
    repo.write("lib/small_b.py", "b = 0\n")
    repo.commit("more")  # app.py's change too: the diff is these three files
    repo.write("lib/big.py", big)
    repo.write("lib/small_a.py", "a = 1\n")
    repo.write("lib/small_b.py", "b = 1\n")

    def chunks(*flags: str) -> list[list[str]]:
        args = ["review", "--dry-run", "--format", "json", "--agents", "security", *flags]
        result = run_council(args, cwd=repo.root, env=env)
        assert result.code == 0, result.stderr
        return [a["files"] for a in json.loads(result.stdout)["assignments"]]

    # Default: the big file (over 2,000 tokens) alone, the small ones together.
    assert chunks() == [["lib/big.py"], ["lib/small_a.py", "lib/small_b.py"]]
    assert chunks("--group-tokens", "24000") == [["lib/big.py", "lib/small_a.py", "lib/small_b.py"]]
    assert chunks("--group-tokens", "1") == [["lib/big.py"], ["lib/small_a.py"], ["lib/small_b.py"]]
    repo.write(".council.toml", "group_tokens = 0\n")
    result = run_council(["review", "--dry-run"], cwd=repo.root, env=env)
    assert result.code == 2
    assert ".council.toml: invalid group-tokens 0" in result.stderr


def test_agents_list_and_show(repo: GitRepo, env: dict[str, str]) -> None:
    repo.write(
        ".council/agents/i18n.md", "---\ndescription: Checks translations\n---\nLook at strings.\n"
    )
    listed = run_council(["agents", "list"], cwd=repo.root, env=env)
    assert listed.code == 0
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert {
        "correctness",
        "security",
        "performance",
        "tests",
        "maintainability",
        "guidelines",
        "verifier",
        "i18n",
    } <= set(lines)
    assert "built-in" in lines["security"]
    assert ".council/agents/i18n.md" in lines["i18n"]
    shown = run_council(["agents", "show", "security"], cwd=repo.root, env=env)
    assert shown.code == 0
    assert "source: built-in" in shown.stdout
    assert '"edit": "deny"' in shown.stdout
    missing = run_council(["agents", "show", "nope"], cwd=repo.root, env=env)
    assert missing.code == 2
    assert "Known agents:" in missing.stderr


def test_help_does_not_import_textual(env: dict[str, str], tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom coordinator.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('textual' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
