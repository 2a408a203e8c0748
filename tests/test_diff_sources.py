"""read_diff and new_file_line_counts against real repositories."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from coordinator.diff import (
    Diff,
    DiffParseError,
    DiffRequest,
    DiffSourceError,
    FileStatus,
    LineKind,
    LineMap,
    NewSide,
    new_file_line_counts,
    read_diff,
)
from coordinator.findings import Anchor
from tests.gitrepo import GitRepo, isolate_git, make_repo


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    return isolate_git(monkeypatch, tmp_path)


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> GitRepo:
    return make_repo(tmp_path, env=env)


def numbered(prefix: str, count: int) -> str:
    return "".join(f"{prefix}{i}\n" for i in range(1, count + 1))


def paths(diff: Diff) -> dict[str, FileStatus]:
    return {f.path: f.status for f in diff.files}


def added_texts(diff: Diff, path: str) -> list[str]:
    (file,) = [f for f in diff.files if f.path == path]
    return [ln.text for h in file.hunks for ln in h.lines if ln.kind is LineKind.ADD]


@pytest.fixture
def branches(repo: GitRepo) -> dict[str, str]:
    """main: base -> main2; feature (checked out): base -> feat. Returns their SHAs."""
    repo.write("shared.txt", numbered("s", 20))
    base = repo.commit("base")
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("feature.txt", "feature work\n")
    feat = repo.commit("feature")
    repo.git("checkout", "--quiet", "main")
    repo.write("main.txt", "main work\n")
    main2 = repo.commit("main moves on")
    repo.git("checkout", "--quiet", "feature")
    return {"base": base, "feat": feat, "main2": main2}


# ------------------------------------------------------------------ working tree and index


def test_default_is_staged_and_unstaged_against_head(repo: GitRepo) -> None:
    repo.write("a.txt", "one\n")
    repo.write("b.txt", "two\n")
    head = repo.commit()
    repo.write("a.txt", "one staged\n")
    repo.add("a.txt")
    repo.write("b.txt", "two unstaged\n")
    repo.write("untracked.txt", "not in git diff HEAD\n")
    diff = read_diff(repo.root, DiffRequest())
    assert paths(diff) == {"a.txt": FileStatus.MODIFIED, "b.txt": FileStatus.MODIFIED}
    assert (diff.base, diff.head, diff.new_side) == (head, None, NewSide.WORKTREE)
    assert diff.source == "working tree vs HEAD"
    assert added_texts(diff, "a.txt") == ["one staged"]
    assert added_texts(diff, "b.txt") == ["two unstaged"]


def test_default_in_repository_without_commits(repo: GitRepo) -> None:
    repo.write("first.py", "print(1)\n")
    repo.add()
    repo.write("first.py", "print(2)\n")  # unstaged edit on top of the staged add
    diff = read_diff(repo.root, DiffRequest())
    assert paths(diff) == {"first.py": FileStatus.ADDED}
    assert added_texts(diff, "first.py") == ["print(2)"]
    assert (diff.base, diff.head) == (None, None)
    assert "no commits yet" in diff.source


def test_staged_only_sees_the_index(repo: GitRepo) -> None:
    repo.write("a.txt", "one\n")
    repo.write("b.txt", "two\n")
    head = repo.commit()
    repo.write("a.txt", "one staged\n")
    repo.add("a.txt")
    repo.write("a.txt", "one staged then edited\n")
    repo.write("b.txt", "two unstaged\n")
    diff = read_diff(repo.root, DiffRequest(staged=True))
    assert paths(diff) == {"a.txt": FileStatus.MODIFIED}
    assert added_texts(diff, "a.txt") == ["one staged"]
    assert (diff.base, diff.head, diff.new_side) == (head, None, NewSide.INDEX)
    assert diff.source == "staged changes vs HEAD"


def test_staged_without_commits(repo: GitRepo) -> None:
    repo.write("x.txt", "x\n")
    repo.add()
    diff = read_diff(repo.root, DiffRequest(staged=True))
    assert paths(diff) == {"x.txt": FileStatus.ADDED}
    assert diff.new_side is NewSide.INDEX


def test_no_changes_gives_an_empty_diff(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    repo.commit()
    assert read_diff(repo.root, DiffRequest()).files == ()


def test_repo_path_may_be_a_subdirectory(repo: GitRepo) -> None:
    repo.write("pkg/sub/mod.py", "x = 1\n")
    repo.write("top.txt", "t\n")
    repo.commit()
    repo.write("pkg/sub/mod.py", "x = 2\n")
    repo.write("top.txt", "T\n")
    diff = read_diff(repo.path("pkg"), DiffRequest())
    assert set(paths(diff)) == {"pkg/sub/mod.py", "top.txt"}


# ------------------------------------------------------------------ base and ranges


def test_base_diffs_from_merge_base_to_working_tree(
    repo: GitRepo, branches: dict[str, str]
) -> None:
    repo.write("shared.txt", numbered("s", 20).replace("s3\n", "s3 edited\n"))
    diff = read_diff(repo.root, DiffRequest(base="main"))
    # feature's commit and the uncommitted edit; not main's later commit.
    assert paths(diff) == {"feature.txt": FileStatus.ADDED, "shared.txt": FileStatus.MODIFIED}
    assert (diff.base, diff.head, diff.new_side) == (branches["base"], None, NewSide.WORKTREE)
    assert "merge-base of main and HEAD" in diff.source


def test_base_with_staged_diffs_to_the_index(repo: GitRepo, branches: dict[str, str]) -> None:
    repo.write("staged.txt", "s\n")
    repo.add("staged.txt")
    repo.write("shared.txt", "unstaged\n")
    diff = read_diff(repo.root, DiffRequest(base="main", staged=True))
    assert paths(diff) == {"feature.txt": FileStatus.ADDED, "staged.txt": FileStatus.ADDED}
    assert (diff.base, diff.new_side) == (branches["base"], NewSide.INDEX)


def test_two_dot_range(repo: GitRepo, branches: dict[str, str]) -> None:
    repo.write("dirty.txt", "working tree changes are not part of a range\n")
    diff = read_diff(repo.root, DiffRequest(range="main..feature"))
    # Straight tree comparison: main's own file shows up as deleted.
    assert paths(diff) == {"feature.txt": FileStatus.ADDED, "main.txt": FileStatus.DELETED}
    assert (diff.base, diff.head) == (branches["main2"], branches["feat"])
    assert (diff.source, diff.new_side) == ("main..feature", NewSide.COMMIT)


def test_three_dot_range(repo: GitRepo, branches: dict[str, str]) -> None:
    diff = read_diff(repo.root, DiffRequest(range="main...feature"))
    assert paths(diff) == {"feature.txt": FileStatus.ADDED}
    assert (diff.base, diff.head) == (branches["base"], branches["feat"])


def test_range_sides_default_to_head(repo: GitRepo, branches: dict[str, str]) -> None:
    diff = read_diff(repo.root, DiffRequest(range="main..."))
    assert (diff.base, diff.head) == (branches["base"], branches["feat"])
    diff = read_diff(repo.root, DiffRequest(range=f"..{branches['main2']}"))
    assert (diff.base, diff.head) == (branches["feat"], branches["main2"])


def test_single_revision_compares_with_working_tree(
    repo: GitRepo, branches: dict[str, str]
) -> None:
    repo.write("feature.txt", "edited\n")
    diff = read_diff(repo.root, DiffRequest(range=branches["base"][:10]))
    assert paths(diff) == {"feature.txt": FileStatus.ADDED}
    assert added_texts(diff, "feature.txt") == ["edited"]
    assert (diff.base, diff.head, diff.new_side) == (branches["base"], None, NewSide.WORKTREE)


def test_unknown_revision_carries_gits_message(repo: GitRepo) -> None:
    repo.commit("c")
    with pytest.raises(DiffSourceError, match=r"unknown revision 'nope' \(git: fatal: "):
        read_diff(repo.root, DiffRequest(range="main..nope"))
    with pytest.raises(DiffSourceError, match="unknown revision 'no-such-branch'"):
        read_diff(repo.root, DiffRequest(base="no-such-branch"))


def test_unrelated_histories_have_no_merge_base(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    repo.commit()
    repo.git("checkout", "--quiet", "--orphan", "other")
    repo.write("b.txt", "b\n")
    repo.commit()
    with pytest.raises(DiffSourceError, match="cannot find a merge base of main and HEAD"):
        read_diff(repo.root, DiffRequest(base="main"))


def test_base_needs_a_commit(repo: GitRepo) -> None:
    with pytest.raises(DiffSourceError, match="--base needs a commit"):
        read_diff(repo.root, DiffRequest(base="main"))


def test_not_a_repository(tmp_path: Path, env: dict[str, str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(
        DiffSourceError, match="is not a git repository: fatal: not a git repository"
    ):
        read_diff(plain, DiffRequest())


def test_option_like_revisions_are_refused(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("c")
    target = tmp_path / "written"
    for spec in (f"--output={target}", f"HEAD..--output={target}"):
        with pytest.raises(DiffSourceError, match="must not start with '-'"):
            read_diff(repo.root, DiffRequest(range=spec))
    assert not target.exists()


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (DiffRequest(patch="x.diff", staged=True), "--patch cannot be combined with --staged"),
        (
            DiffRequest(patch="-", range="a..b", base="m"),
            "--patch cannot be combined with RANGE or --base",
        ),
        (DiffRequest(range="a..b", base="main"), "either a RANGE or --base"),
        (DiffRequest(range="a..b", staged=True), "cannot take a RANGE"),
        (DiffRequest(range="  "), "RANGE is empty"),
        (DiffRequest(base=""), "--base is empty"),
        (DiffRequest(patch=""), "--patch needs a file name"),
    ],
)
def test_incompatible_requests(request_: DiffRequest, message: str, tmp_path: Path) -> None:
    # Checked before anything runs: tmp_path is not even a repository.
    with pytest.raises(DiffSourceError, match=re.escape(message)):
        read_diff(tmp_path, request_)


def test_user_config_cannot_change_the_format(
    repo: GitRepo, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (Path(env["HOME"]) / ".gitconfig").write_text(
        "[diff]\n"
        "\tnoprefix = true\n\tmnemonicPrefix = true\n\trelative = true\n\trenames = false\n"
        "\tcontext = 0\n\tsuppressBlankEmpty = true\n\texternal = false\n\tsubmodule = log\n"
        "[core]\n\tquotePath = true\n"
        "[color]\n\tui = always\n\tdiff = always\n"
    )
    repo.write("dir/ä b.txt", "a\n\nb\nc\nd\n")
    repo.write("dir/old.txt", numbered("o", 20))
    repo.commit()
    repo.write("dir/ä b.txt", "a\n\nB\nc\nd\n")
    repo.git("mv", "dir/old.txt", "dir/new.txt")
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", "false")
    monkeypatch.setenv("GIT_DIFF_OPTS", "--unified=0")
    diff = read_diff(repo.path("dir"), DiffRequest())
    renamed, spaced = sorted(diff.files, key=lambda f: f.path)
    assert (spaced.path, renamed.path, renamed.old_path) == (
        "dir/ä b.txt",
        "dir/new.txt",
        "dir/old.txt",
    )
    lines = [(ln.kind, ln.text) for ln in spaced.hunks[0].lines]
    assert lines[:3] == [(LineKind.CONTEXT, "a"), (LineKind.CONTEXT, ""), (LineKind.DELETE, "b")]
    assert len(lines) == 6  # three lines of context around the change, whatever diff.context says


# ------------------------------------------------------------------ patches


def test_patch_file_and_stdin_match_the_git_source(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("m.py", numbered("m", 10))
    repo.write("gone.txt", "g\n")
    repo.commit()
    repo.write("m.py", numbered("m", 10).replace("m5\n", "five\n"))
    repo.write("new file.txt", "n\n")
    repo.remove("gone.txt")
    repo.add()
    from_git = read_diff(repo.root, DiffRequest())
    text = repo.git("diff", "HEAD")
    patch = tmp_path / "change.patch"
    patch.write_text(text, encoding="utf-8")

    from_file = read_diff(tmp_path, DiffRequest(patch=str(patch)))  # no repository needed
    from_stdin = read_diff(tmp_path, DiffRequest(patch="-"), stdin_text=text)
    assert from_file.files == from_git.files == from_stdin.files
    assert (from_file.base, from_file.head, from_file.new_side) == (None, None, NewSide.UNKNOWN)
    assert from_file.source == f"patch file {patch}"
    assert from_stdin.source == "patch from stdin"


def test_empty_patch_is_an_empty_diff(tmp_path: Path) -> None:
    assert read_diff(tmp_path, DiffRequest(patch="-"), stdin_text="").files == ()


def test_patch_errors(tmp_path: Path) -> None:
    with pytest.raises(DiffSourceError, match=r"cannot read patch file .*missing\.diff"):
        read_diff(tmp_path, DiffRequest(patch=str(tmp_path / "missing.diff")))
    with pytest.raises(DiffSourceError, match="patch from stdin holds no unified diff"):
        read_diff(tmp_path, DiffRequest(patch="-"), stdin_text="hello\n")
    broken = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+b\n"
    with pytest.raises(DiffParseError, match="patch from stdin: line 3: hunk"):
        read_diff(tmp_path, DiffRequest(patch="-"), stdin_text=broken)


# ------------------------------------------------------------------ line counts


def test_line_counts_of_working_tree_files(repo: GitRepo) -> None:
    repo.write("long.txt", numbered("l", 50))
    repo.write("bin.dat", b"\x00\x01")
    repo.write("gone.txt", "g\n")
    repo.write("noeol.txt", "a\nb")
    repo.commit()
    repo.write("long.txt", numbered("l", 50).replace("l2\n", "two\n"))
    repo.write("bin.dat", b"\x00\x02")
    repo.write("noeol.txt", "a\nB")
    repo.remove("gone.txt")
    os.symlink("long.txt", repo.path("link"))
    repo.git("add", "-N", "link")
    diff = read_diff(repo.root, DiffRequest())
    counts = new_file_line_counts(repo.root, diff)
    assert counts == {"long.txt": 50, "noeol.txt": 2, "link": 1}

    line_map = LineMap(diff.files, counts)
    assert line_map.locate("long.txt", 2) is Anchor.ADDED
    assert line_map.locate("long.txt", 5) is Anchor.CONTEXT
    assert line_map.locate("long.txt", 40) is Anchor.FILE
    assert line_map.locate("long.txt", 51) is Anchor.OUTSIDE


def test_line_counts_from_the_index_and_commits(repo: GitRepo, branches: dict[str, str]) -> None:
    repo.write("feature.txt", "staged\nlines\n")
    repo.add()
    repo.write("feature.txt", "worktree has\nthree\nlines\n")
    staged = read_diff(repo.root, DiffRequest(staged=True))
    assert new_file_line_counts(repo.root, staged) == {"feature.txt": 2}
    worktree = read_diff(repo.root, DiffRequest())
    assert new_file_line_counts(repo.root, worktree) == {"feature.txt": 3}
    committed = read_diff(repo.root, DiffRequest(range=f"{branches['feat']}..main"))
    assert new_file_line_counts(repo.root, committed) == {"main.txt": 1}
    older = read_diff(repo.root, DiffRequest(range=f"main..{branches['feat']}"))
    assert new_file_line_counts(repo.root, older) == {"feature.txt": 1}


def test_line_counts_for_patches(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("m.txt", numbered("m", 30))
    repo.commit()
    repo.write("m.txt", numbered("m", 30).replace("m3\n", "three\n"))
    repo.write("added.txt", "1\n2\n")
    repo.add()
    text = repo.git("diff", "HEAD")
    applied = read_diff(repo.root, DiffRequest(patch="-"), stdin_text=text)
    assert new_file_line_counts(repo.root, applied) == {"m.txt": 30, "added.txt": 2}

    # Elsewhere (no such files): added files still have a known length, m.txt does not.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert new_file_line_counts(elsewhere, applied) == {"added.txt": 2}

    # A working tree file too short for the patch's new side is not that side.
    (elsewhere / "m.txt").write_text("just one line\n")
    assert new_file_line_counts(elsewhere, applied) == {"added.txt": 2}


def test_patch_paths_cannot_reach_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n")
    inside = tmp_path / "checkout"
    inside.mkdir()
    text = "--- a/../secret.txt\n+++ b/../secret.txt\n@@ -1,1 +1,1 @@\n-1\n+one\n"
    diff = read_diff(inside, DiffRequest(patch="-"), stdin_text=text)
    assert [f.path for f in diff.files] == ["../secret.txt"]
    assert new_file_line_counts(inside, diff) == {}  # not the 10 lines of secret.txt
