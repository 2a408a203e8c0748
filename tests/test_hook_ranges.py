"""Which commits a push sends, from git's pre-push protocol or pre-commit's variables (real git)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from coordinator.diff import parse_unified_diff
from coordinator.diff.sources import read_diff
from coordinator.integrations.push import (
    PushError,
    PushRange,
    is_zero,
    parse_push_lines,
    pre_commit_range,
    ranges_to_review,
)
from tests.gitrepo import GitRepo, git_env, make_repo

ZERO = "0" * 40


@dataclass
class Pushed:
    repo: GitRepo
    remote: Path

    def ranges(
        self, lines: str, remote: str | None = "origin"
    ) -> tuple[list[PushRange], list[str]]:
        return ranges_to_review(self.repo.root, remote, parse_push_lines(lines))


def setup_pushed(tmp_path: Path, *, object_format: str = "sha1") -> Pushed:
    env = git_env(tmp_path / "home")
    remote = tmp_path / "remote.git"
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--object-format={object_format}", str(remote)],
        check=True,
        env=env,
    )
    root = tmp_path / "repo"
    root.mkdir()
    repo = GitRepo(root, env)
    repo.git("init", "--quiet", "--initial-branch=main", f"--object-format={object_format}")
    repo.write("a.txt", "a\n")
    repo.commit("one")
    repo.write("b.txt", "b\n")
    repo.commit("two")
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "--quiet", "origin", "main")
    return Pushed(repo, remote)


@pytest.fixture
def pushed(tmp_path: Path) -> Pushed:
    return setup_pushed(tmp_path)


def test_an_update_reviews_remote_to_local(pushed: Pushed) -> None:
    old = pushed.repo.head()
    pushed.repo.write("c.txt", "c\n")
    new = pushed.repo.commit("three")
    (found,), notes = pushed.ranges(f"refs/heads/main {new} refs/heads/main {old}\n")
    assert (found.base, found.head) == (old, new)
    assert notes == []
    assert found.diff_request(pushed.repo.root)[0].range == f"{old}...{new}"


def test_a_new_branch_reviews_only_commits_no_remote_branch_has(pushed: Pushed) -> None:
    main = pushed.repo.head()
    pushed.repo.git("checkout", "--quiet", "-b", "feature")
    pushed.repo.write("f.txt", "f1\n")
    pushed.repo.commit("f1")
    pushed.repo.write("f.txt", "f2\n")
    head = pushed.repo.commit("f2")
    (found,), _ = pushed.ranges(f"refs/heads/feature {head} refs/heads/feature {ZERO}\n")
    assert (found.base, found.head) == (main, head)
    # Pushed to a URL rather than a named remote: any remote-tracking branch counts.
    (by_url,), _ = pushed.ranges(
        f"refs/heads/feature {head} refs/heads/feature {ZERO}\n", remote=str(pushed.remote)
    )
    assert by_url.base == main


def test_several_refs_in_one_push(pushed: Pushed) -> None:
    main = pushed.repo.head()
    pushed.repo.git("tag", "on-main")
    pushed.repo.git("checkout", "--quiet", "-b", "feature")
    pushed.repo.write("f.txt", "f\n")
    head = pushed.repo.commit("f")
    pushed.repo.git("tag", "-a", "-m", "release", "v1")
    tag_object = pushed.repo.git("rev-parse", "v1").strip()
    on_main = pushed.repo.rev("on-main")
    lines = (
        f"refs/heads/feature {head} refs/heads/feature {ZERO}\n"
        f"refs/tags/v1 {tag_object} refs/tags/v1 {ZERO}\n"  # same commits: reviewed once
        f"refs/tags/on-main {on_main} refs/tags/on-main {ZERO}\n"  # nothing new
        f"(delete) {ZERO} refs/heads/old {main}\n"
        f"refs/heads/main {main} refs/heads/main {main}\n"  # up to date
    )
    ranges, notes = pushed.ranges(lines)
    assert [(r.base, r.head) for r in ranges] == [(main, head)]
    assert notes == [
        "refs/tags/on-main: every commit is already on the remote",
        "refs/heads/old: deleted, nothing to review",
        "refs/heads/main: already up to date",
    ]


def test_a_force_push_reviews_from_the_old_remote_commit(pushed: Pushed) -> None:
    old = pushed.repo.head()
    pushed.repo.git("reset", "--quiet", "--hard", "HEAD~1")
    pushed.repo.write("b.txt", "rewritten\n")
    new = pushed.repo.commit("two, again")
    (found,), _ = pushed.ranges(f"refs/heads/main {new} refs/heads/main {old}\n")
    assert (found.base, found.head) == (old, new)  # A...B diffs from their merge base


def test_a_force_push_of_an_unrelated_history_reviews_the_tree_change(pushed: Pushed) -> None:
    old = pushed.repo.head()
    pushed.repo.git("checkout", "--quiet", "--orphan", "rewrite")
    pushed.repo.git("rm", "-rf", "--quiet", ".")
    pushed.repo.write("new.txt", "fresh start\n")
    new = pushed.repo.commit("unrelated")
    (found,), _ = pushed.ranges(f"refs/heads/main {new} refs/heads/main {old}\n")
    assert (found.base, found.head, found.related) == (old, new, False)
    request, patch = found.diff_request(pushed.repo.root)
    assert (request.range, patch) == (f"{old}..{new}", None)
    diff = read_diff(pushed.repo.root, request)
    assert {f.path: f.status.value for f in diff.files}["new.txt"] == "added"


def test_an_unknown_remote_commit_falls_back_to_what_no_remote_branch_has(pushed: Pushed) -> None:
    main = pushed.repo.head()
    pushed.repo.write("c.txt", "c\n")
    new = pushed.repo.commit("three")
    (found,), _ = pushed.ranges(f"refs/heads/main {new} refs/heads/main {'1' * 40}\n")
    assert (found.base, found.head) == (main, new)


def test_the_first_push_of_a_history_reviews_the_whole_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.write("a.txt", "a\n")
    repo.commit("one")
    repo.write("dir/b.txt", "b\n")
    head = repo.commit("two")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True, env=repo.env)
    repo.git("remote", "add", "origin", str(remote))
    (found,), _ = ranges_to_review(
        repo.root, "origin", parse_push_lines(f"refs/heads/main {head} refs/heads/main {ZERO}")
    )
    assert found.base is None
    assert found.head == head
    request, patch = found.diff_request(repo.root)
    assert request.patch == "-"
    assert patch is not None
    files = parse_unified_diff(patch)
    assert sorted(f.path for f in files) == ["a.txt", "dir/b.txt"]
    assert all(f.status.value == "added" for f in files)


def test_sha256_repositories(tmp_path: Path) -> None:
    pushed = setup_pushed(tmp_path, object_format="sha256")
    main = pushed.repo.head()
    assert len(main) == 64
    zero = "0" * 64
    assert is_zero(zero)
    pushed.repo.git("checkout", "--quiet", "-b", "feature")
    pushed.repo.write("f.txt", "f\n")
    head = pushed.repo.commit("f")
    ranges, notes = pushed.ranges(
        f"refs/heads/feature {head} refs/heads/feature {zero}\n"
        f"(delete) {zero} refs/heads/gone {main}\n"
    )
    assert [(r.base, r.head) for r in ranges] == [(main, head)]
    assert notes == ["refs/heads/gone: deleted, nothing to review"]


def test_malformed_input_is_an_error() -> None:
    with pytest.raises(PushError, match="line 2"):
        parse_push_lines(f"refs/heads/a {ZERO} refs/heads/a {ZERO}\nnot enough fields\n")
    assert parse_push_lines("\n\n") == []
    # A local side given as an expression may hold spaces; the oids never do.
    (ref,) = parse_push_lines(f"HEAD~1 weird {'a' * 40} refs/heads/x {ZERO}")
    assert ref.local_ref == "HEAD~1 weird"


def test_pre_commit_variables(pushed: Pushed) -> None:
    old = pushed.repo.head()
    pushed.repo.write("c.txt", "c\n")
    new = pushed.repo.commit("three")
    root = pushed.repo.root
    assert pre_commit_range(root, {}) is None
    found = pre_commit_range(
        root,
        {"PRE_COMMIT": "1", "PRE_COMMIT_FROM_REF": old, "PRE_COMMIT_TO_REF": new,
         "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/main"},
    )  # fmt: skip
    assert found is not None
    assert (found.base, found.head) == (old, new)
    whole = pre_commit_range(root, {"PRE_COMMIT": "1"})  # a root push: pre-commit sets no refs
    assert whole is not None
    assert (whole.base, whole.head) == (None, new)
    with pytest.raises(PushError, match="PRE_COMMIT_TO_REF"):
        pre_commit_range(root, {"PRE_COMMIT": "1", "PRE_COMMIT_TO_REF": "nope"})
