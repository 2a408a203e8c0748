"""LineMap: where a new-file line sits relative to a real diff."""

from __future__ import annotations

import difflib
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.diff import (
    DiffFile,
    DiffLine,
    FileStatus,
    Hunk,
    LineKind,
    LineMap,
    new_length_from_hunks,
    parse_unified_diff,
)
from coordinator.findings import Anchor
from tests.gitrepo import GitRepo, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path)


def numbered(prefix: str, count: int) -> str:
    return "".join(f"{prefix}{i}\n" for i in range(1, count + 1))


def git_files(repo: GitRepo, *args: str) -> tuple[DiffFile, ...]:
    return parse_unified_diff(repo.git("diff", "--no-color", "-M", *args))


@pytest.fixture
def changed(repo: GitRepo) -> tuple[DiffFile, ...]:
    """m.txt (40 lines): line 10 replaced by two lines, so new lines 10-11 are added."""
    repo.write("m.txt", numbered("m", 40))
    repo.write("gone.txt", "g\n")
    repo.write("bin.dat", b"\x00\x01")
    repo.write("old.txt", numbered("o", 10))
    repo.commit()
    repo.write("m.txt", numbered("m", 40).replace("m10\n", "ten\nten and a half\n"))
    repo.remove("gone.txt")
    repo.write("bin.dat", b"\x00\x02")
    repo.git("mv", "old.txt", "renamed.txt")
    repo.add()
    return git_files(repo, "--cached")


def test_added_context_file_and_outside(changed: tuple[DiffFile, ...]) -> None:
    line_map = LineMap(changed, {"m.txt": 41})
    assert [line_map.locate("m.txt", n) for n in range(6, 16)] == [
        Anchor.FILE,  # 6: before the hunk (context starts at 7)
        Anchor.CONTEXT,
        Anchor.CONTEXT,
        Anchor.CONTEXT,
        Anchor.ADDED,  # 10
        Anchor.ADDED,  # 11
        Anchor.CONTEXT,
        Anchor.CONTEXT,
        Anchor.CONTEXT,
        Anchor.FILE,  # 15: after the hunk
    ]
    assert line_map.locate("m.txt", 1) is Anchor.FILE
    assert line_map.locate("m.txt", 41) is Anchor.FILE
    assert line_map.locate("m.txt", 42) is Anchor.OUTSIDE
    assert line_map.locate("m.txt", 0) is Anchor.OUTSIDE
    assert line_map.locate("m.txt", -3) is Anchor.OUTSIDE


def test_unknown_length_allows_any_positive_line(changed: tuple[DiffFile, ...]) -> None:
    line_map = LineMap(changed)
    assert line_map.locate("m.txt", 10_000) is Anchor.FILE
    assert line_map.locate("m.txt", 0) is Anchor.OUTSIDE


def test_deleted_binary_and_unknown_paths_are_outside(changed: tuple[DiffFile, ...]) -> None:
    line_map = LineMap(changed, {"m.txt": 41})
    for path in ("gone.txt", "bin.dat", "nowhere.txt", "old.txt"):
        assert line_map.locate(path, 1) is Anchor.OUTSIDE, path
        assert not line_map.is_reviewable(path)
    assert line_map.has_path("gone.txt")
    assert line_map.has_path("bin.dat")
    assert not line_map.has_path("nowhere.txt")
    assert not line_map.has_path("old.txt")  # a rename's old name is not in the new tree


def test_rename_without_changes_is_a_changed_file(changed: tuple[DiffFile, ...]) -> None:
    line_map = LineMap(changed, {"renamed.txt": 10})
    assert line_map.is_reviewable("renamed.txt")
    assert line_map.locate("renamed.txt", 10) is Anchor.FILE
    assert line_map.locate("renamed.txt", 11) is Anchor.OUTSIDE


def test_new_line_text(changed: tuple[DiffFile, ...]) -> None:
    line_map = LineMap(changed)
    assert line_map.new_line_text("m.txt", 9) == "m9"
    assert line_map.new_line_text("m.txt", 11) == "ten and a half"
    assert line_map.new_line_text("m.txt", 12) == "m11"
    assert line_map.new_line_text("m.txt", 20) is None  # outside every hunk
    assert line_map.new_line_text("gone.txt", 1) is None
    assert line_map.new_line_text("nowhere", 1) is None


def test_several_hunks_and_pure_deletion_hunks(repo: GitRepo) -> None:
    repo.write("f.txt", numbered("f", 60))
    repo.commit()
    text = numbered("f", 60).replace("f5\n", "").replace("f30\n", "F30\n").replace("f55\n", "")
    repo.write("f.txt", text)
    (file,) = git_files(repo)
    assert len(file.hunks) == 3
    line_map = LineMap((file,), {"f.txt": 58})
    assert line_map.locate("f.txt", 29) is Anchor.ADDED  # f30, shifted up by one
    assert line_map.new_line_text("f.txt", 29) == "F30"
    # Around the deletion of f5: context only, nothing added.
    assert {line_map.locate("f.txt", n) for n in range(2, 8)} == {Anchor.CONTEXT}
    assert line_map.locate("f.txt", 20) is Anchor.FILE


def test_added_file_length_comes_from_its_hunk(repo: GitRepo) -> None:
    repo.commit("empty")
    repo.write("new.py", "a\nb\nc\n")
    repo.write("empty.txt", "")
    repo.add()
    files = git_files(repo, "--cached")
    line_map = LineMap(files)  # no counts given
    assert [line_map.locate("new.py", n) for n in (1, 3, 4)] == [
        Anchor.ADDED,
        Anchor.ADDED,
        Anchor.OUTSIDE,
    ]
    assert line_map.locate("empty.txt", 1) is Anchor.OUTSIDE
    assert new_length_from_hunks(files[1]) == 3


def test_length_from_missing_newline_at_end(repo: GitRepo) -> None:
    repo.write("n.txt", numbered("n", 20) + "last")
    repo.commit()
    repo.write("n.txt", numbered("n", 20) + "LAST")
    (file,) = git_files(repo)
    assert new_length_from_hunks(file) == 21
    line_map = LineMap((file,))
    assert line_map.locate("n.txt", 21) is Anchor.ADDED
    assert line_map.locate("n.txt", 22) is Anchor.OUTSIDE
    assert line_map.locate("n.txt", 3) is Anchor.FILE


def test_counts_override_and_unknown_modified_length(changed: tuple[DiffFile, ...]) -> None:
    m = next(f for f in changed if f.path == "m.txt")
    assert new_length_from_hunks(m) is None
    assert LineMap(changed, {"m.txt": 12}).locate("m.txt", 13) is Anchor.CONTEXT  # hunk wins
    assert LineMap(changed, {"m.txt": 12}).locate("m.txt", 15) is Anchor.OUTSIDE


def test_delete_and_add_of_the_same_path_keeps_the_new_file(repo: GitRepo) -> None:
    repo.write("t", "regular file\n")
    repo.commit()
    repo.remove("t")
    os.symlink("target", repo.path("t"))
    files = git_files(repo)
    assert sorted(f.status for f in files) == [FileStatus.ADDED, FileStatus.DELETED]
    for ordering in (files, files[::-1]):
        line_map = LineMap(ordering)
        assert line_map.locate("t", 1) is Anchor.ADDED
        assert line_map.new_line_text("t", 1) == "target"


def test_many_files_build_and_lookup_quickly() -> None:
    def one_file(i: int) -> DiffFile:
        lines = tuple(
            DiffLine(LineKind.ADD if j % 2 else LineKind.CONTEXT, f"l{j}", None, 100 + j)
            for j in range(20)
        )
        return DiffFile(
            f"pkg{i % 97}/f{i}.py",
            None,
            FileStatus.MODIFIED,
            hunks=(Hunk(100, 10, 100, 20, "", lines),),
        )

    files = [one_file(i) for i in range(10_000)]
    started = time.perf_counter()
    line_map = LineMap(files)
    for i in range(10_000):
        assert line_map.locate(f"pkg{i % 97}/f{i}.py", 101) is Anchor.ADDED
        assert line_map.locate(f"pkg{i % 97}/f{i}.py", 50) is Anchor.FILE
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"10k files took {elapsed:.2f}s"


_lines = st.lists(st.sampled_from(["a", "b", "c", "d", ""]), max_size=25)


@settings(database=None, max_examples=150, deadline=None)
@given(old=_lines, new=_lines, context=st.integers(min_value=0, max_value=3))
def test_anchors_agree_with_difflib(old: list[str], new: list[str], context: int) -> None:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    inserted = {
        n + 1
        for tag, _, _, j1, j2 in matcher.get_opcodes()
        if tag in ("insert", "replace")
        for n in range(j1, j2)
    }
    text = "".join(
        difflib.unified_diff(
            [f"{s}\n" for s in old], [f"{s}\n" for s in new], "a/f", "b/f", n=context
        )
    )
    line_map = LineMap(parse_unified_diff(text), {"f": len(new)})
    for n in range(0, len(new) + 2):
        anchor = line_map.locate("f", n)
        if old == new or n < 1 or n > len(new):
            assert anchor is Anchor.OUTSIDE
        elif n in inserted:
            assert anchor is Anchor.ADDED
            assert line_map.new_line_text("f", n) == new[n - 1]
        else:
            assert anchor in (Anchor.CONTEXT, Anchor.FILE)
            text_at = line_map.new_line_text("f", n)
            assert text_at is None or text_at == new[n - 1]
            assert (text_at is not None) == (anchor is Anchor.CONTEXT)
