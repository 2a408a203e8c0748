"""Turn a dataset case into a checkout council can review. Blocking (git, file copies).

Every case is reviewed in a private directory named only by its position
(``case-0003``) — never by its id or description, which often name the defect and
would reach the reviewers through paths or commit messages:

- ``repo`` case: a ``git clone --shared --no-checkout`` of the repository (objects
  are borrowed, not copied), checked out at ``head``; review ``base..head``.
- ``patch`` case with ``base_tree``: the tree is copied and committed, the patch
  applied with ``git apply --index`` and committed; review the two commits. The
  commit identity and dates are fixed, so the same case always gives the same
  SHAs (and the same prompts, which ``--reuse-answers`` relies on).
- ``patch`` case without ``base_tree``: only the patch is reviewed, from a copy
  outside the (empty) checkout; reviewers see nothing but the diff.

Git runs with the user's config overridden where it would change the result or
stop it (hooks, signing, autocrlf, LFS smudging).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from coordinator.diff.sources import DiffRequest
from coordinator.evaluation.dataset import DatasetError, EvalCase

_FIXED_DATE = "2000-01-01T00:00:00Z"
_GIT_CONFIG = (
    "user.name=council eval",
    "user.email=eval@council.invalid",
    "commit.gpgsign=false",
    "core.hooksPath=/dev/null",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "init.defaultBranch=main",
    "advice.detachedHead=false",
)
# Variables that would point git at another repository.
_DROPPED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)


@dataclass(frozen=True)
class Workspace:
    root: Path  # where the reviewers work (and council reads the diff)
    request: DiffRequest


@dataclass(frozen=True)
class ResolvedRevisions:
    base: str
    head: str


def check_case(case: EvalCase) -> ResolvedRevisions | None:
    """What can be checked before any model runs: a repo case's revisions exist."""
    if case.repo is None or case.base is None or case.head is None:
        return None
    if _git(case.repo, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise DatasetError(f"{case.where}: {case.repo} is not a git repository")
    return ResolvedRevisions(
        base=_resolve(case, case.repo, case.base, "base"),
        head=_resolve(case, case.repo, case.head, "head"),
    )


def materialise(case: EvalCase, index: int, scratch: Path) -> Workspace:
    """Build case number ``index``'s checkout under ``scratch``."""
    root = scratch / f"case-{index:04d}"
    if case.repo is not None:
        revisions = check_case(case)
        assert revisions is not None
        _git(
            scratch,
            "clone",
            "--quiet",
            "--shared",
            "--no-checkout",
            "--",
            str(case.repo),
            root.name,
        )
        _git(root, "checkout", "--quiet", "--detach", revisions.head)
        return Workspace(root, DiffRequest(range=f"{revisions.base}..{revisions.head}"))
    assert case.patch is not None
    if case.base_tree is None:
        root.mkdir(parents=True)
        _git(root, "init", "--quiet")  # so no repository around the scratch dir is used
        copy = scratch / f"case-{index:04d}.patch"
        shutil.copyfile(case.patch, copy)
        return Workspace(root, DiffRequest(patch=str(copy)))
    shutil.copytree(case.base_tree, root, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    _git(root, "init", "--quiet")
    _git(root, "add", "--all", "--force")
    _git(root, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "base")
    applied = _git(
        root, "apply", "--index", "--whitespace=nowarn", str(case.patch.resolve()), check=False
    )
    if applied.returncode != 0:
        raise DatasetError(
            f"{case.where}: patch {case.patch} does not apply to base_tree {case.base_tree}: "
            f"{_stderr(applied)}"
        )
    _git(root, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "change under review")
    base = _git(root, "rev-parse", "HEAD~1").stdout.strip()
    head = _git(root, "rev-parse", "HEAD").stdout.strip()
    return Workspace(root, DiffRequest(range=f"{base}..{head}"))


def _resolve(case: EvalCase, repo: Path, rev: str, label: str) -> str:
    if rev.startswith("-"):
        raise DatasetError(f"{case.where}: {label} {rev!r} must not start with '-'")
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if done.returncode != 0:
        raise DatasetError(f"{case.where}: {label} {rev!r} is not a commit in {repo}")
    return done.stdout.strip()


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["git", "--no-pager"]
    for setting in _GIT_CONFIG:
        argv += ["-c", setting]
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(
        GIT_AUTHOR_DATE=_FIXED_DATE,
        GIT_COMMITTER_DATE=_FIXED_DATE,
        GIT_LFS_SKIP_SMUDGE="1",
        GIT_TERMINAL_PROMPT="0",
    )
    try:
        done = subprocess.run(
            [*argv, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
        )
    except FileNotFoundError as exc:
        raise DatasetError("git is not installed or not on PATH") from exc
    if check and done.returncode != 0:
        raise DatasetError(f"git {' '.join(args[:2])} in {cwd} failed: {_stderr(done)}")
    return done


def _stderr(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr.strip() or f"exit status {done.returncode}"
