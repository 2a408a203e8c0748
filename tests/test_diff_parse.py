"""parse_unified_diff against real git (and GNU diff) output."""

from __future__ import annotations

import difflib
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.diff import DiffFile, DiffParseError, FileStatus, LineKind, parse_unified_diff
from tests.gitrepo import GitRepo, make_repo

GIT_DIFF = ("diff", "--no-color", "--no-ext-diff", "-M", "-C")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path)


def numbered(prefix: str, count: int) -> str:
    return "".join(f"{prefix}{i}\n" for i in range(1, count + 1))


def parse_git(repo: GitRepo, *args: str, quote_path: bool = False) -> tuple[DiffFile, ...]:
    quote = "true" if quote_path else "false"
    return parse_unified_diff(repo.git("-c", f"core.quotePath={quote}", *GIT_DIFF, *args))


def only(files: tuple[DiffFile, ...]) -> DiffFile:
    assert len(files) == 1, [f.path for f in files]
    return files[0]


def new_side(file: DiffFile) -> list[tuple[int | None, str]]:
    return [(ln.new_lineno, ln.text) for h in file.hunks for ln in h.lines if ln.new_lineno]


# ------------------------------------------------------------------ statuses


def test_added_file_numbers_every_line(repo: GitRepo) -> None:
    repo.commit("empty")
    repo.write("src/new.py", "a = 1\nb = 2\nc = 3\n")
    repo.add()
    f = only(parse_git(repo, "--cached"))
    assert (f.path, f.old_path, f.status, f.new_mode) == (
        "src/new.py",
        None,
        FileStatus.ADDED,
        "100644",
    )
    (hunk,) = f.hunks
    assert (hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines) == (0, 0, 1, 3)
    assert [(ln.kind, ln.old_lineno, ln.new_lineno, ln.text) for ln in hunk.lines] == [
        (LineKind.ADD, None, 1, "a = 1"),
        (LineKind.ADD, None, 2, "b = 2"),
        (LineKind.ADD, None, 3, "c = 3"),
    ]
    assert (f.additions, f.deletions) == (3, 0)


def test_empty_and_executable_new_files(repo: GitRepo) -> None:
    repo.commit("empty")
    repo.write("empty.txt", "")
    repo.write("run.sh", "#!/bin/sh\n")
    os.chmod(repo.path("run.sh"), 0o755)
    repo.add()
    empty, script = parse_git(repo, "--cached")
    assert (empty.path, empty.status, empty.hunks, empty.new_mode) == (
        "empty.txt",
        FileStatus.ADDED,
        (),
        "100644",
    )
    assert (script.path, script.status, script.new_mode) == ("run.sh", FileStatus.ADDED, "100755")


def test_deleted_file_keeps_old_path_and_numbers(repo: GitRepo) -> None:
    repo.write("old/gone.txt", "x\ny\n")
    repo.commit()
    repo.remove("old/gone.txt")
    f = only(parse_git(repo))
    assert (f.path, f.status, f.old_mode) == ("old/gone.txt", FileStatus.DELETED, "100644")
    assert [(ln.kind, ln.old_lineno, ln.new_lineno) for ln in f.hunks[0].lines] == [
        (LineKind.DELETE, 1, None),
        (LineKind.DELETE, 2, None),
    ]
    assert (f.hunks[0].new_start, f.hunks[0].new_lines) == (0, 0)


def test_modified_file_line_numbers_and_section(repo: GitRepo) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(1, 21))
    repo.write("mod.py", f"def handler():\n{body}")
    repo.commit()
    repo.write(
        "mod.py", f"def handler():\n{body}".replace("    x10 = 10\n", "    x10 = 100\n    y = 0\n")
    )
    f = only(parse_git(repo))
    assert f.status is FileStatus.MODIFIED
    (hunk,) = f.hunks
    assert (hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines) == (8, 7, 8, 8)
    assert hunk.section == "def handler():"
    rows = [(ln.kind, ln.old_lineno, ln.new_lineno, ln.text.strip()) for ln in hunk.lines]
    assert rows[2:7] == [
        (LineKind.CONTEXT, 10, 10, "x9 = 9"),
        (LineKind.DELETE, 11, None, "x10 = 10"),
        (LineKind.ADD, None, 11, "x10 = 100"),
        (LineKind.ADD, None, 12, "y = 0"),
        (LineKind.CONTEXT, 12, 13, "x11 = 11"),
    ]
    assert hunk.new_end == 15


def test_several_hunks_in_one_file(repo: GitRepo) -> None:
    repo.write("long.txt", numbered("line ", 40))
    repo.commit()
    repo.write(
        "long.txt", numbered("line ", 40).replace("line 5\n", "").replace("line 30\n", "X\nY\n")
    )
    f = only(parse_git(repo))
    first, second = f.hunks
    assert (first.old_start, first.old_lines, first.new_start, first.new_lines) == (2, 7, 2, 6)
    assert (second.old_start, second.old_lines, second.new_start, second.new_lines) == (
        27,
        7,
        26,
        8,
    )
    added = [(ln.new_lineno, ln.text) for ln in second.lines if ln.kind is LineKind.ADD]
    assert added == [(29, "X"), (30, "Y")]


def test_one_line_file_has_hunk_header_without_lengths(repo: GitRepo) -> None:
    repo.write("one.txt", "old\n")
    repo.commit()
    repo.write("one.txt", "new\n")
    text = repo.git(*GIT_DIFF)
    assert "@@ -1 +1 @@" in text
    (hunk,) = only(parse_unified_diff(text)).hunks
    assert (hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines) == (1, 1, 1, 1)
    assert [(ln.kind, ln.text) for ln in hunk.lines] == [
        (LineKind.DELETE, "old"),
        (LineKind.ADD, "new"),
    ]


def test_pure_rename_has_similarity_and_no_hunks(repo: GitRepo) -> None:
    repo.write("pkg/a.py", numbered("a", 10))
    repo.commit()
    repo.path("lib").mkdir()
    repo.git("mv", "pkg/a.py", "lib/b.py")
    f = only(parse_git(repo, "--cached"))
    assert (f.path, f.old_path, f.status, f.similarity, f.hunks) == (
        "lib/b.py",
        "pkg/a.py",
        FileStatus.RENAMED,
        100,
        (),
    )
    assert not f.mode_only


def test_rename_with_changes_and_spaces_in_names(repo: GitRepo) -> None:
    repo.write("old name.txt", numbered("n", 30))
    repo.commit()
    repo.git("mv", "old name.txt", "new name.txt")
    repo.write("new name.txt", numbered("n", 29) + "changed\n")
    repo.add()
    text = repo.git(*GIT_DIFF, "--cached")
    assert "--- a/old name.txt\t" in text  # git marks names with spaces by a trailing tab
    f = only(parse_unified_diff(text))
    assert (f.path, f.old_path, f.status) == ("new name.txt", "old name.txt", FileStatus.RENAMED)
    assert f.similarity is not None
    assert 50 <= f.similarity < 100
    assert [(ln.new_lineno, ln.text) for ln in f.hunks[0].lines if ln.kind is LineKind.ADD] == [
        (30, "changed")
    ]


def test_copy_is_detected(repo: GitRepo) -> None:
    repo.write("orig.py", numbered("o", 40))
    repo.commit()
    repo.write("copy.py", numbered("o", 40) + "tail\n")
    repo.add()
    files = parse_git(repo, "--cached", "--find-copies-harder")
    f = only(files)
    assert (f.path, f.old_path, f.status) == ("copy.py", "orig.py", FileStatus.COPIED)
    assert f.similarity is not None
    assert f.similarity >= 90
    assert new_side(f)[-1] == (41, "tail")


def test_mode_only_change(repo: GitRepo) -> None:
    repo.write("tool.sh", "echo hi\n")
    repo.commit()
    os.chmod(repo.path("tool.sh"), 0o755)
    f = only(parse_git(repo))
    assert (f.path, f.status, f.old_mode, f.new_mode, f.hunks) == (
        "tool.sh",
        FileStatus.MODIFIED,
        "100644",
        "100755",
        (),
    )
    assert f.mode_only


def test_mode_change_with_content_change(repo: GitRepo) -> None:
    repo.write("tool.sh", "echo hi\n")
    repo.commit()
    repo.write("tool.sh", "echo bye\n")
    os.chmod(repo.path("tool.sh"), 0o755)
    f = only(parse_git(repo))
    assert (f.old_mode, f.new_mode, len(f.hunks)) == ("100644", "100755", 1)
    assert not f.mode_only


def test_names_with_spaces_and_no_content_lines(repo: GitRepo) -> None:
    # No ---/+++ lines here: the name comes from splitting "diff --git a/x y b/x y".
    repo.write("dir with space/run me.sh", "echo\n")
    repo.commit()
    os.chmod(repo.path("dir with space/run me.sh"), 0o755)
    repo.write("a b/empty file.txt", "")
    repo.git("add", "-N", "a b/empty file.txt")
    mode, empty = sorted(parse_git(repo), key=lambda f: f.path, reverse=True)
    assert (mode.path, mode.mode_only) == ("dir with space/run me.sh", True)
    assert (empty.path, empty.status) == ("a b/empty file.txt", FileStatus.ADDED)


def test_symlink_added(repo: GitRepo) -> None:
    repo.commit("empty")
    os.symlink("target/file.txt", repo.path("link"))
    repo.add()
    f = only(parse_git(repo, "--cached"))
    assert (f.path, f.status, f.new_mode) == ("link", FileStatus.ADDED, "120000")
    (line,) = f.hunks[0].lines
    assert (line.text, line.no_newline_at_eof) == ("target/file.txt", True)


# ------------------------------------------------------------------ binary


def test_binary_files_added_modified_deleted(repo: GitRepo) -> None:
    repo.write("img/logo.png", b"\x89PNG\x00\x01")
    repo.write("old.bin", b"\x00\xff")
    repo.commit()
    repo.write("img/logo.png", b"\x89PNG\x00\x02")
    repo.write("new.bin", b"\x00\x00\x01")
    repo.remove("old.bin")
    repo.add()
    text = repo.git(*GIT_DIFF, "--cached")
    assert "Binary files a/img/logo.png and b/img/logo.png differ" in text
    files = {f.path: f for f in parse_unified_diff(text)}
    assert {p: (f.status, f.is_binary, f.hunks) for p, f in files.items()} == {
        "img/logo.png": (FileStatus.MODIFIED, True, ()),
        "new.bin": (FileStatus.ADDED, True, ()),
        "old.bin": (FileStatus.DELETED, True, ()),
    }


def test_git_binary_patch_is_skipped_cleanly(repo: GitRepo) -> None:
    repo.write("a.bin", bytes(range(256)) * 4)
    repo.write("z.txt", "before\n")
    repo.commit()
    repo.write("a.bin", bytes(reversed(range(256))) * 4)
    repo.write("z.txt", "after\n")
    text = repo.git(*GIT_DIFF, "--binary")
    assert "GIT binary patch" in text
    binary, textual = parse_unified_diff(text)
    assert (binary.path, binary.is_binary, binary.hunks) == ("a.bin", True, ())
    assert (textual.path, textual.is_binary) == ("z.txt", False)
    assert new_side(textual) == [(1, "after")]


# ------------------------------------------------------------------ names


def test_quoted_octal_utf8_path(repo: GitRepo) -> None:
    repo.write("café/naïve.txt", "x\n")
    repo.commit()
    repo.write("café/naïve.txt", "y\n")
    text = repo.git(*GIT_DIFF)  # core.quotePath defaults to true
    assert '"a/caf\\303\\251/na\\303\\257ve.txt"' in text
    f = only(parse_unified_diff(text))
    assert f.path == "café/naïve.txt"


def test_unquoted_non_ascii_path_with_quotepath_false(repo: GitRepo) -> None:
    repo.write("日本/ファイル.txt", "x\n")
    repo.commit()
    repo.git("mv", "日本/ファイル.txt", "日本/新しい.txt")
    text = repo.git("-c", "core.quotePath=false", *GIT_DIFF, "--cached")
    assert "rename from 日本/ファイル.txt" in text
    f = only(parse_unified_diff(text))
    assert (f.path, f.old_path) == ("日本/新しい.txt", "日本/ファイル.txt")


def test_names_with_quote_tab_and_backslash(repo: GitRepo) -> None:
    repo.commit("empty")
    weird = 'we"ird\tna\\me.txt'
    repo.write(weird, "q\n")
    repo.write("plain.txt", "p\n")
    repo.add()
    text = repo.git("-c", "core.quotePath=false", *GIT_DIFF, "--cached")
    assert '"b/plain.txt"' not in text
    assert '"b/we\\"ird\\tna\\\\me.txt"' in text
    assert sorted(f.path for f in parse_unified_diff(text)) == ["plain.txt", weird]


def test_quoted_rename_of_spaced_non_ascii_name(repo: GitRepo) -> None:
    repo.write("ü old.txt", numbered("u", 10))
    repo.commit()
    repo.git("mv", "ü old.txt", "ü new.txt")
    f = only(parse_git(repo, "--cached", quote_path=True))
    assert (f.path, f.old_path, f.status) == ("ü new.txt", "ü old.txt", FileStatus.RENAMED)


# ------------------------------------------------------------------ line endings


def test_no_newline_at_end_of_file_on_both_sides(repo: GitRepo) -> None:
    repo.write("noeol.txt", "a\nb")
    repo.commit()
    repo.write("noeol.txt", "a\nc")
    text = repo.git(*GIT_DIFF)
    assert text.count("\\ No newline at end of file") == 2
    (hunk,) = only(parse_unified_diff(text)).hunks
    assert [(ln.kind, ln.text, ln.no_newline_at_eof) for ln in hunk.lines] == [
        (LineKind.CONTEXT, "a", False),
        (LineKind.DELETE, "b", True),
        (LineKind.ADD, "c", True),
    ]


def test_newline_added_at_end_of_file(repo: GitRepo) -> None:
    repo.write("eol.txt", "a\nb")
    repo.commit()
    repo.write("eol.txt", "a\nb\n")
    (hunk,) = only(parse_git(repo)).hunks
    assert [(ln.kind, ln.text, ln.no_newline_at_eof) for ln in hunk.lines] == [
        (LineKind.CONTEXT, "a", False),
        (LineKind.DELETE, "b", True),
        (LineKind.ADD, "b", False),
    ]


def test_crlf_content_lines(repo: GitRepo) -> None:
    repo.write("win.txt", "one\r\ntwo\r\n")
    repo.commit()
    repo.write("win.txt", "one\r\nthree\r\n")
    (hunk,) = only(parse_git(repo)).hunks
    assert [(ln.kind, ln.text, ln.crlf) for ln in hunk.lines] == [
        (LineKind.CONTEXT, "one", True),
        (LineKind.DELETE, "two", True),
        (LineKind.ADD, "three", True),
    ]


def test_whole_patch_with_crlf_line_endings(repo: GitRepo) -> None:
    repo.write("x y.txt", "a\nb\n")
    repo.commit()
    repo.write("x y.txt", "a\nc\n")
    text = repo.git(*GIT_DIFF).replace("\n", "\r\n")  # a patch saved by a Windows editor
    f = only(parse_unified_diff(text))
    assert f.path == "x y.txt"
    assert [(ln.text, ln.crlf) for ln in f.hunks[0].lines] == [
        ("a", True),
        ("b", True),
        ("c", True),
    ]


def test_form_feed_and_unicode_separators_stay_inside_a_line(repo: GitRepo) -> None:
    repo.write("odd.txt", "a\n")
    repo.commit()
    repo.write("odd.txt", "a\x0cb\u2028c\x1dd\n")
    (hunk,) = only(parse_git(repo)).hunks
    assert [ln.text for ln in hunk.lines] == ["a", "a\x0cb\u2028c\x1dd"]


def test_empty_context_lines_with_and_without_leading_space(repo: GitRepo) -> None:
    repo.write("blank.txt", "a\n\nb\n\nc\n")
    repo.commit()
    repo.write("blank.txt", "a\n\nB\n\nc\n")
    for suppress in ("false", "true"):
        text = repo.git("-c", f"diff.suppressBlankEmpty={suppress}", *GIT_DIFF)
        assert ("\n\n" in text) == (suppress == "true")
        (hunk,) = only(parse_unified_diff(text)).hunks
        assert [(ln.kind, ln.text, ln.old_lineno, ln.new_lineno) for ln in hunk.lines] == [
            (LineKind.CONTEXT, "a", 1, 1),
            (LineKind.CONTEXT, "", 2, 2),
            (LineKind.DELETE, "b", 3, None),
            (LineKind.ADD, "B", None, 3),
            (LineKind.CONTEXT, "", 4, 4),
            (LineKind.CONTEXT, "c", 5, 5),
        ]


def test_content_that_looks_like_headers(repo: GitRepo) -> None:
    repo.write("sig.txt", "-- a\n++ b\nkeep\n@@ x\n")
    repo.commit()
    repo.write("sig.txt", "++ b\nkeep\ndiff --git a/q b/q\n@@ x\n")
    text = repo.git(*GIT_DIFF)
    assert "\n--- a\n" in text
    assert "\n+diff --git a/q b/q\n" in text
    f = only(parse_unified_diff(text))
    assert [(ln.kind, ln.text) for ln in f.hunks[0].lines] == [
        (LineKind.DELETE, "-- a"),
        (LineKind.CONTEXT, "++ b"),
        (LineKind.CONTEXT, "keep"),
        (LineKind.ADD, "diff --git a/q b/q"),
        (LineKind.CONTEXT, "@@ x"),
    ]


# ------------------------------------------------------------------ other producers


def test_format_patch_mail_with_message_and_signature(repo: GitRepo) -> None:
    repo.write("a.txt", "1\n")
    repo.commit()
    repo.write("a.txt", "2\n")
    repo.write("b.txt", "new\n")
    repo.commit("change a\n\n--- not a diff\n+++ really not\n")
    text = repo.git("format-patch", "-1", "--stdout")
    assert text.rstrip().splitlines()[-2] == "-- "
    files = parse_unified_diff(text)
    assert [(f.path, f.status) for f in files] == [
        ("a.txt", FileStatus.MODIFIED),
        ("b.txt", FileStatus.ADDED),
    ]


def test_plain_diff_u_with_timestamps(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x\ny\n")
    (tmp_path / "b" / "f.txt").write_text("x\nz\n")
    (tmp_path / "b" / "new.txt").write_text("n\n")
    done = subprocess.run(
        ["diff", "-ruN", "a", "b"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "\t" in done.stdout.splitlines()[1]  # "--- a/f.txt\t2024-..."
    modified, added = parse_unified_diff(done.stdout)
    assert (modified.path, modified.status) == ("f.txt", FileStatus.MODIFIED)
    assert new_side(modified) == [(1, "x"), (2, "z")]
    # diff -N compares with an empty file, not /dev/null: the header cannot say "added".
    assert (added.path, new_side(added)) == ("new.txt", [(1, "n")])


def test_plain_diff_with_dev_null_sides() -> None:
    text = (
        "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n"
    )
    added, deleted = parse_unified_diff(text)
    assert (added.path, added.status, new_side(added)) == (
        "new.txt",
        FileStatus.ADDED,
        [(1, "a"), (2, "b")],
    )
    assert (deleted.path, deleted.status) == ("old.txt", FileStatus.DELETED)


def test_text_without_a_diff_gives_nothing() -> None:
    assert parse_unified_diff("") == ()
    assert parse_unified_diff("just some words\n--- not\nmore\n") == ()


# ------------------------------------------------------------------ errors


def _one_hunk(header: str, *body: str) -> str:
    return (
        "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n"
        + header
        + "\n"
        + "\n".join(body)
        + "\n"
    )


def test_error_when_hunk_is_shorter_than_its_header() -> None:
    with pytest.raises(DiffParseError, match=r"line 5: hunk '@@ -1,3 \+1,3 @@' .*the patch ends"):
        parse_unified_diff(_one_hunk("@@ -1,3 +1,3 @@", " a", "-b", "+c"))


def test_error_when_hunk_is_longer_than_its_header() -> None:
    with pytest.raises(DiffParseError, match=r"line 5: .*too many"):
        parse_unified_diff(_one_hunk("@@ -1,2 +1,1 @@", "+c", "+d", "-a", "-b"))
    with pytest.raises(DiffParseError, match=r"line 8: unexpected diff content '-d'"):
        parse_unified_diff(_one_hunk("@@ -1,1 +1,1 @@", "-b", "+c", "-d"))


def test_error_on_garbage_inside_a_hunk() -> None:
    with pytest.raises(DiffParseError, match=r"line 5: .*line 7 \('\?\?\?'\)"):
        parse_unified_diff(_one_hunk("@@ -1,2 +1,2 @@", " a", "???", " b"))


def test_error_on_malformed_hunk_header() -> None:
    with pytest.raises(DiffParseError, match=r"line 5: malformed hunk header '@@ -x \+1 @@'"):
        parse_unified_diff(_one_hunk("@@ -x +1 @@", "+a"))


def test_error_on_combined_diff() -> None:
    with pytest.raises(DiffParseError, match="combined"):
        parse_unified_diff("diff --cc f\nindex 1,2..3\n@@@ -1 -1 +1 @@@\n- a\n -b\n++c\n")


def test_error_on_bad_quoted_name() -> None:
    text = (
        'diff --git "a/x" "b/x"\nnew file mode 100644\n--- /dev/null\n+++ "b/x\n@@ -0,0 +1 @@\n+a\n'
    )
    with pytest.raises(DiffParseError, match="line 4: unterminated quoted name"):
        parse_unified_diff(text)


# ------------------------------------------------------------------ property: difflib round trip


def _apply(old: list[str], file: DiffFile) -> list[str]:
    new: list[str] = []
    cursor = 0  # old lines consumed
    for hunk in file.hunks:
        start = hunk.old_start - 1 if hunk.old_lines else hunk.old_start
        new.extend(old[cursor:start])
        cursor = start
        for ln in hunk.lines:
            if ln.kind is not LineKind.ADD:
                assert old[cursor] == ln.text
                assert ln.old_lineno == cursor + 1
                cursor += 1
            if ln.kind is not LineKind.DELETE:
                new.append(ln.text)
                assert ln.new_lineno == len(new)
    return new + old[cursor:]


_lines = st.lists(
    st.sampled_from(["a", "b", "c", "", "-x", "+y", " z", "--- q", "@@ w"]), max_size=30
)


@settings(database=None, max_examples=150, deadline=None)
@given(old=_lines, new=_lines, context=st.integers(min_value=0, max_value=3))
def test_difflib_unified_diff_round_trips(old: list[str], new: list[str], context: int) -> None:
    text = "".join(
        difflib.unified_diff(
            [f"{s}\n" for s in old], [f"{s}\n" for s in new], "a/f.txt", "b/f.txt", n=context
        )
    )
    files = parse_unified_diff(text)
    if old == new:
        assert files == ()
        return
    f = only(files)
    assert f.path == "f.txt"
    assert _apply(old, f) == new
