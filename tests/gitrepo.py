"""Real git repositories in temporary directories, isolated from the user's git config.

    repo = make_repo(tmp_path)
    repo.write("app.py", "print('hi')\\n")
    first = repo.commit("initial")
    repo.write("app.py", "print('bye')\\n")
    text = repo.git("diff")

Every git call runs with ``HOME`` in the temporary directory, no system config and
a fixed identity and dates, so results do not depend on the machine. Code under
test that runs git itself needs the same isolation in ``os.environ``: use
``isolate_git(monkeypatch, tmp_path)`` (``make_repo`` accepts its environment).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Variables that would point git at another repository or change its output.
_LEAKY_GIT_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIFF_OPTS",
    "GIT_PAGER",
)


def git_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for git with config only from ``home`` and a fixed identity."""
    env = dict((os.environ if base is None else base).items())
    for name in _LEAKY_GIT_ENV:
        env.pop(name, None)
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CEILING_DIRECTORIES=str(home.parent),
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.invalid",
        GIT_COMMITTER_NAME="Test Author",
        GIT_COMMITTER_EMAIL="author@example.invalid",
        GIT_AUTHOR_DATE="2024-01-01T00:00:00Z",
        GIT_COMMITTER_DATE="2024-01-01T00:00:00Z",
        LC_ALL="C",
    )
    return env


def isolate_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Make ``os.environ`` the isolated git environment for this test; returns it."""
    env = git_env(tmp_path / "home")
    for name in _LEAKY_GIT_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@dataclass
class GitRepo:
    root: Path
    env: dict[str, str] = field(repr=False)

    def git(self, *args: str, input: bytes | None = None) -> str:
        """Run git in the repository; return stdout (UTF-8). Fails the test on error."""
        return self.git_bytes(*args, input=input).decode("utf-8")

    def git_bytes(self, *args: str, input: bytes | None = None) -> bytes:
        done = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env=self.env,
            input=input,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"git {' '.join(args)} failed ({done.returncode}): {done.stderr.decode()}"
            )
        return done.stdout

    def path(self, relative: str) -> Path:
        return self.root / relative

    def write(self, relative: str, content: str | bytes) -> Path:
        """Write a file (parents created). Text is written byte for byte: no newline translation."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        target.write_bytes(data)
        return target

    def remove(self, relative: str) -> None:
        (self.root / relative).unlink()

    def add(self, *paths: str) -> None:
        self.git("add", "--all", "--", *(paths or (".",)))

    def commit(self, message: str = "commit", *, add_all: bool = True) -> str:
        """Commit (everything, unless ``add_all=False``); return the new commit's SHA."""
        if add_all:
            self.add()
        self.git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def rev(self, name: str) -> str:
        return self.git("rev-parse", "--verify", f"{name}^{{commit}}").strip()


def make_repo(
    tmp_path: Path, name: str = "repo", *, env: Mapping[str, str] | None = None
) -> GitRepo:
    """A fresh repository ``tmp_path/name`` on branch ``main`` with no commits."""
    root = tmp_path / name
    root.mkdir(parents=True)
    repo = GitRepo(root, dict(env) if env is not None else git_env(tmp_path / "home"))
    repo.git("init", "--quiet", "--initial-branch=main")
    repo.git("config", "core.autocrlf", "false")
    return repo


def one_line_change(tmp_path: Path) -> GitRepo:
    """A repository whose working tree changes one line of committed ``app.py``."""
    repo = make_repo(tmp_path)
    repo.write("app.py", "def f(x):\n    return x\n")
    repo.commit("base")
    repo.write("app.py", "def f(x):\n    return x + 1\n")
    return repo
