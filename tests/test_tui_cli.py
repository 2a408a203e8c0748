"""``council tui`` from the command line: the checks before the app opens, and the flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.council_run import run_council
from tests.gitrepo import GitRepo, git_env, one_line_change


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return one_line_change(tmp_path)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = git_env(tmp_path / "home")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return env


def test_tui_needs_a_terminal(repo: GitRepo, env: dict[str, str]) -> None:
    result = run_council(["tui", "--runtime", "openai"], cwd=repo.root, env=env)
    assert result.code == 2
    assert "council tui needs a terminal" in result.stderr


def test_tui_refuses_a_patch_on_stdin(repo: GitRepo, env: dict[str, str]) -> None:
    result = run_council(["tui", "--patch", "-"], cwd=repo.root, env=env, stdin="")
    assert result.code == 2
    assert "use --patch FILE" in result.stderr


def test_tui_takes_the_review_selection_flags(repo: GitRepo, env: dict[str, str]) -> None:
    result = run_council(["tui", "--help"], cwd=repo.root, env=env)
    assert result.code == 0
    for flag in ("--base", "--staged", "--agents", "--show-dismissed", "--no-cache", "--verify"):
        assert flag in result.stdout


def test_review_accepts_show_dismissed(repo: GitRepo, env: dict[str, str]) -> None:
    result = run_council(
        ["review", "--dry-run", "--show-dismissed", "--agents", "security"], cwd=repo.root, env=env
    )
    assert result.code == 0, result.stderr


def test_a_broken_dismissals_file_stops_the_review_with_its_name(
    repo: GitRepo, env: dict[str, str]
) -> None:
    repo.write(".council/dismissed.toml", "[[dismissed]]\ntitle = 'no fingerprint'\n")
    result = run_council(["review", "--dry-run"], cwd=repo.root, env=env)
    assert result.code == 2
    assert "dismissed.toml: entry 1 has no fingerprint" in result.stderr
