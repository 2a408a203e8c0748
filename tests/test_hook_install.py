"""`council hook install|uninstall`, and `hook run` when there is nothing to review (no model)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from coordinator.integrations.hook_install import (
    MARKER,
    HookFileError,
    hook_script,
    install_hook,
    uninstall_hook,
)
from tests.council_run import run_council
from tests.gitrepo import GitRepo, git_env, make_repo

FOREIGN = "#!/bin/sh\necho 'my own hook'\n"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = make_repo(tmp_path)
    repo.write("a.txt", "a\n")
    repo.commit("one")
    return repo


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = git_env(tmp_path / "home")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return env


def hook_path(repo: GitRepo) -> Path:
    return repo.root / ".git" / "hooks" / "pre-push"


def test_install_writes_an_executable_hook_and_reinstall_updates_it(repo: GitRepo) -> None:
    change = install_hook(repo.root)
    path = hook_path(repo)
    assert change.path == path
    text = path.read_text()
    assert text.startswith("#!/bin/sh\n" + MARKER)
    assert "hook run pre-push" in text
    assert os.access(path, os.X_OK)
    assert "updated" in install_hook(repo.root).message


def test_a_foreign_hook_is_kept_unless_forced_and_restored_on_uninstall(repo: GitRepo) -> None:
    path = hook_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FOREIGN)
    with pytest.raises(HookFileError, match="--force"):
        install_hook(repo.root)
    assert path.read_text() == FOREIGN
    change = install_hook(repo.root, force=True)
    assert "pre-push.council-backup" in change.message
    assert (path.parent / "pre-push.council-backup").read_text() == FOREIGN
    assert MARKER in path.read_text()
    assert "restored" in uninstall_hook(repo.root).message
    assert path.read_text() == FOREIGN
    with pytest.raises(HookFileError, match="not written by council"):
        uninstall_hook(repo.root)
    assert path.read_text() == FOREIGN


def test_core_hooks_path_is_honoured(repo: GitRepo) -> None:
    repo.git("config", "core.hooksPath", ".githooks")
    change = install_hook(repo.root)
    assert change.path == (repo.root / ".githooks" / "pre-push").resolve()
    assert not hook_path(repo).exists()
    assert "removed" in uninstall_hook(repo.root).message
    assert not change.path.exists()


def test_uninstall_without_a_hook_says_so(repo: GitRepo) -> None:
    assert "nothing to remove" in uninstall_hook(repo.root).message


def test_a_hook_whose_council_is_gone_lets_the_push_through(repo: GitRepo, tmp_path: Path) -> None:
    path = tmp_path / "pre-push"
    path.write_text(hook_script(python="/nonexistent/python3"))
    done = subprocess.run(
        ["sh", str(path), "origin", "url"],
        input="",
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0
    assert "cannot find council" in done.stderr


def test_cli_install_and_uninstall(repo: GitRepo, env: dict[str, str]) -> None:
    installed = run_council(["hook", "install"], cwd=repo.root, env=env)
    assert installed.code == 0
    assert "installed" in installed.stderr
    hook_path(repo).write_text(FOREIGN)
    refused = run_council(["hook", "install"], cwd=repo.root, env=env)
    assert refused.code == 2
    assert "not written by council" in refused.stderr
    hook_path(repo).unlink()
    run_council(["hook", "install"], cwd=repo.root, env=env)
    removed = run_council(["hook", "uninstall"], cwd=repo.root, env=env)
    assert removed.code == 0
    assert "removed" in removed.stderr
    assert not hook_path(repo).exists()


def test_hook_run_with_nothing_new_starts_nothing(repo: GitRepo, env: dict[str, str]) -> None:
    head = repo.head()
    env["PATH"] = "/usr/bin:/bin"  # no runtime: it must not be needed
    result = run_council(
        ["hook", "run", "pre-push", "origin", "url"],
        cwd=repo.root,
        env=env,
        stdin=f"(delete) {'0' * 40} refs/heads/x {head}\n",
    )
    assert result.code == 0, result.stderr
    assert "deleted, nothing to review" in result.stderr


def test_hook_run_with_bad_input_warns_or_blocks_when_strict(
    repo: GitRepo, env: dict[str, str]
) -> None:
    args = ["hook", "run", "pre-push", "origin", "url"]
    lenient = run_council(args, cwd=repo.root, env=env, stdin="garbage\n")
    assert lenient.code == 0
    assert "warning: pre-push input line 1" in lenient.stderr
    strict = run_council([*args, "--strict"], cwd=repo.root, env=env, stdin="garbage\n")
    assert strict.code == 2
    assert "push blocked (strict_hook)" in strict.stderr


def test_hook_run_with_a_bad_config_file_warns(repo: GitRepo, env: dict[str, str]) -> None:
    repo.write(".council.toml", "concurrency = 0\n")
    head = repo.head()
    result = run_council(
        ["hook", "run", "pre-push", "origin", "url"],
        cwd=repo.root,
        env=env,
        stdin=f"refs/heads/main {head} refs/heads/main {'0' * 40}\n",
    )
    assert result.code == 0
    assert "warning: " in result.stderr
    assert "invalid concurrency" in result.stderr


def test_a_coordinator_folder_in_the_repository_cannot_stand_in_for_council(
    repo: GitRepo, env: dict[str, str]
) -> None:
    repo.write("coordinator/__init__.py", "")
    repo.write("coordinator/__main__.py", "print('SHADOW'); raise SystemExit(7)\n")
    install_hook(repo.root)
    done = subprocess.run(
        ["sh", str(hook_path(repo)), "origin", "url"],
        cwd=repo.root,
        input="",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "SHADOW" not in done.stdout + done.stderr
