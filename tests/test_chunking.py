"""chunk_diff, estimate_tokens and the rendered text reviewers read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coordinator.diff import (
    Chunk,
    DiffFile,
    FileStatus,
    chunk_diff,
    estimate_tokens,
    parse_unified_diff,
    render_chunk,
    render_file,
)
from coordinator.findings import Unreviewed
from tests.gitrepo import GitRepo, make_repo


def numbered(prefix: str, count: int) -> str:
    return "".join(f"{prefix}{i}\n" for i in range(1, count + 1))


def edit_every(text: str, every: int) -> str:
    """Change one line in each block of ``every`` lines: one hunk per block when every > 7."""
    lines = text.splitlines(keepends=True)
    return "".join(f"changed {ln}" if i % every == every // 2 else ln for i, ln in enumerate(lines))


def git_files(repo: GitRepo) -> tuple[DiffFile, ...]:
    repo.add()
    return parse_unified_diff(repo.git("diff", "--cached", "--no-color", "-M"))


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[DiffFile, ...]:
    """A realistic diff: small and big files, several hunks, plus unreviewable kinds."""
    repo = make_repo(tmp_path_factory.mktemp("mixed"))
    sizes = {"a/one.py": 30, "a/two.py": 200, "b/three.py": 12, "b/four.py": 120, "c/five.py": 60}
    for path, count in sizes.items():
        repo.write(path, numbered(f"{path} line ", count))
    repo.write("logo.png", b"\x89PNG\x00")
    repo.write("gone.txt", "g\n")
    repo.write("tool.sh", "echo\n")
    repo.commit()
    for path, count in sizes.items():
        repo.write(path, edit_every(numbered(f"{path} line ", count), 10))
    repo.write("added.py", numbered("new ", 15))
    repo.write("logo.png", b"\x89PNG\x01")
    repo.remove("gone.txt")
    os.chmod(repo.path("tool.sh"), 0o755)
    return git_files(repo)


def hunk_ids(files: tuple[DiffFile, ...] | list[DiffFile]) -> list[tuple[str, int, int]]:
    return [(f.path, h.old_start, h.new_start) for f in files for h in f.hunks]


def budget_detail_hunks(unreviewed: tuple[Unreviewed, ...]) -> list[Unreviewed]:
    return [u for u in unreviewed if u.reason == "budget"]


# ------------------------------------------------------------------ estimate_tokens


def test_estimate_tokens_counts_bytes_and_lines() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcdefg") == 2  # 7 bytes / 3.5
    assert estimate_tokens("abcdefgh") == 3  # rounded up
    assert estimate_tokens("ab\n") == 2  # one byte-token and one line
    assert estimate_tokens("é") == 1  # two UTF-8 bytes
    assert estimate_tokens("日本語の文字") == 6  # 18 bytes
    assert estimate_tokens("x\n" * 100) == 58 + 100


# ------------------------------------------------------------------ render


def test_render_format() -> None:
    text = (
        "diff --git a/old/name.py b/path/to/file.py\n"
        "similarity index 80%\nrename from old/name.py\nrename to path/to/file.py\n"
        "index 1111111..2222222 100644\n--- a/old/name.py\n+++ b/path/to/file.py\n"
        "@@ -10,4 +10,4 @@ def handler():\n"
        " unchanged line\n+added line\n-deleted line\n unchanged line\n"
        "-old last\n\\ No newline at end of file\n+new last\n\\ No newline at end of file\n"
    )
    (file,) = parse_unified_diff(text)
    assert render_file(file) == (
        "### path/to/file.py (modified; renamed from old/name.py)\n"
        "@@ -10,4 +10,4 @@ def handler():\n"
        "  10   | unchanged line\n"
        "  11 + | added line\n"
        "     - | deleted line\n"
        "  12   | unchanged line\n"
        "     - | old last\n"
        "     \\ | (no newline at end of file)\n"
        "  13 + | new last\n"
        "     \\ | (no newline at end of file)\n"
    )


def test_render_widens_the_number_column_for_long_files(repo: GitRepo) -> None:
    repo.write("big.txt", numbered("b", 10_005))
    repo.write("win.txt", "a\r\n")
    repo.commit()
    repo.write("big.txt", numbered("b", 10_005).replace("b10003\n", "B\n"))
    repo.write("win.txt", "b\r\n")
    os.chmod(repo.path("win.txt"), 0o755)
    big, win = git_files(repo)
    rendered = render_file(big).splitlines()
    assert rendered[1] == "@@ -10000,6 +10000,6 @@ b9999"
    assert rendered[2:6] == [
        "10000   | b10000",
        "10001   | b10001",
        "10002   | b10002",
        "      - | b10003",
    ]
    assert render_file(win).splitlines() == [
        "### win.txt (modified; mode 100644 -> 100755; CRLF line endings)",
        "@@ -1,1 +1,1 @@",
        "     - | a",
        "   1 + | b",
    ]


def test_render_chunk_separates_files_with_a_blank_line(mixed: tuple[DiffFile, ...]) -> None:
    one, two = (f for f in mixed if f.path in ("a/one.py", "added.py"))
    chunk = Chunk(index=0, files=(two, one), estimated_tokens=0)
    assert render_chunk(chunk) == render_file(two) + "\n" + render_file(one)
    assert render_file(two).startswith("### added.py (added)\n@@ -0,0 +1,15 @@\n   1 + | new 1\n")


# ------------------------------------------------------------------ chunking


def test_budget_must_be_positive(mixed: tuple[DiffFile, ...]) -> None:
    for budget in (0, -5):
        with pytest.raises(ValueError, match="budget_tokens must be positive"):
            chunk_diff(mixed, budget)


def test_large_budget_gives_one_chunk_of_whole_files(mixed: tuple[DiffFile, ...]) -> None:
    result = chunk_diff(mixed, 1_000_000)
    (chunk,) = result.chunks
    reviewable = [
        f for f in mixed if f.hunks and not f.is_binary and f.status is not FileStatus.DELETED
    ]
    assert chunk.files == tuple(reviewable)  # untouched, in diff order
    assert chunk.paths == tuple(f.path for f in reviewable)
    assert chunk.index == 0
    assert chunk.estimated_tokens == estimate_tokens(render_chunk(chunk))


def test_unreviewable_files_are_reported_not_sent(repo: GitRepo) -> None:
    repo.write("logo.png", b"\x89PNG\x00")
    repo.write("gone.txt", "g\n")
    repo.write("tool.sh", "echo\n")
    repo.write("same.txt", numbered("s", 10))
    repo.write("keep.txt", "k\n")
    repo.commit()
    repo.write("logo.png", b"\x89PNG\x01")
    repo.remove("gone.txt")
    os.chmod(repo.path("tool.sh"), 0o755)
    repo.git("mv", "same.txt", "moved.txt")
    repo.write("empty.txt", "")
    repo.write("keep.txt", "K\n")
    result = chunk_diff(git_files(repo), 10_000)
    assert [(u.path, u.reason, u.detail) for u in result.unreviewed] == [
        ("empty.txt", "empty", "new empty file"),
        ("gone.txt", "deleted", None),
        ("logo.png", "binary", None),
        ("moved.txt", "empty", "renamed from same.txt, content unchanged"),
        ("tool.sh", "mode-only", "mode 100644 -> 100755, content unchanged"),
    ]
    assert [c.paths for c in result.chunks] == [("keep.txt",)]


def test_files_are_packed_whole_in_diff_order(mixed: tuple[DiffFile, ...]) -> None:
    small = [f for f in mixed if f.path in ("a/one.py", "added.py", "b/three.py")]
    pair = estimate_tokens(render_chunk(Chunk(0, (small[0], small[1]), 0)))
    result = chunk_diff(small, pair)
    assert [c.paths for c in result.chunks] == [("a/one.py", "added.py"), ("b/three.py",)]
    assert result.chunks[0].estimated_tokens == pair
    result = chunk_diff(small, pair - 1)
    assert [c.paths for c in result.chunks] == [("a/one.py",), ("added.py", "b/three.py")]
    assert all(c.files[0] in small for c in result.chunks)  # whole files, not parts


def test_big_file_is_split_between_hunks(mixed: tuple[DiffFile, ...]) -> None:
    big = next(f for f in mixed if f.path == "a/two.py")
    after = next(f for f in mixed if f.path == "added.py")
    assert len(big.hunks) == 20
    budget = estimate_tokens(render_file(big)) // 3
    result = chunk_diff([big, after], budget)
    parts = [f for c in result.chunks for f in c.files if f.path == "a/two.py"]
    assert len(parts) >= 3
    assert hunk_ids(parts) == hunk_ids([big])  # every hunk once, in order, never split
    assert all(part.hunks for part in parts)
    assert [len(c.files) for c in result.chunks][:-1] == [1] * (len(result.chunks) - 1)
    # The last part stays open: the next file joins it when it fits.
    assert result.chunks[-1].paths == ("a/two.py", "added.py")
    assert result.unreviewed == ()
    for chunk in result.chunks:
        assert chunk.estimated_tokens == estimate_tokens(render_chunk(chunk)) <= budget
    # A part is as full as it can be: the next hunk would not have fitted.
    first, second = result.chunks[0].files[0], result.chunks[1].files[0]
    grown = Chunk(
        0, (DiffFile(big.path, None, big.status, hunks=(*first.hunks, second.hunks[0])),), 0
    )
    assert estimate_tokens(render_chunk(grown)) > budget


def test_oversized_hunk_is_unreviewed_with_reason(repo: GitRepo) -> None:
    repo.write("f.py", numbered("f", 100))
    repo.commit()
    text = numbered("f", 100).replace("f5\n", "F5\n").replace("f95\n", "F95\n")
    text = text.replace("f50\n", "".join(f"generated {i}\n" for i in range(300)))
    repo.write("f.py", text)
    (file,) = git_files(repo)
    first, huge, last = file.hunks
    budget = 200
    one = Chunk(0, (DiffFile("f.py", None, FileStatus.MODIFIED, hunks=(huge,)),), 0)
    needed = estimate_tokens(render_chunk(one))
    assert needed > budget
    result = chunk_diff([file], budget)
    assert [(u.path, u.reason, u.detail) for u in result.unreviewed] == [
        ("f.py", "budget", f"hunk @@ -47,7 +47,306 @@ needs ~{needed} tokens > budget {budget}")
    ]
    assert hunk_ids([f for c in result.chunks for f in c.files]) == [
        ("f.py", 2, 2),
        ("f.py", 92, 391),
    ]
    assert (first.old_start, last.old_start) == (2, 92)


def test_invariants_hold_for_every_budget(mixed: tuple[DiffFile, ...]) -> None:
    everything = hunk_ids(
        [f for f in mixed if not f.is_binary and f.status is not FileStatus.DELETED]
    )
    for budget in [*range(1, 400, 3), 500, 1000, 5000]:
        result = chunk_diff(mixed, budget)
        sent = [f for c in result.chunks for f in c.files]
        too_big = budget_detail_hunks(result.unreviewed)
        # Every hunk is sent exactly once or reported, and order is kept.
        assert len(hunk_ids(sent)) + len(too_big) == len(everything)
        assert [h for h in everything if h in set(hunk_ids(sent))] == hunk_ids(sent)
        assert [c.index for c in result.chunks] == list(range(len(result.chunks)))
        for chunk in result.chunks:
            assert chunk.files
            assert chunk.estimated_tokens == estimate_tokens(render_chunk(chunk))
            assert chunk.estimated_tokens <= budget
        for item in too_big:
            assert item.detail is not None
            assert f"> budget {budget}" in item.detail


def test_chunking_is_deterministic(mixed: tuple[DiffFile, ...]) -> None:
    for budget in (50, 300, 2000):
        assert chunk_diff(mixed, budget) == chunk_diff(list(mixed), budget)


def test_sizes_stay_exact_when_the_number_column_widens(repo: GitRepo) -> None:
    # Hunks below and above line 10,000 render with 4- and 5-digit columns on their
    # own, and all with 5 digits once they share a file block.
    repo.write("wide.txt", numbered("w", 10_030))
    repo.write("next.txt", "n\n")
    repo.commit()
    text = numbered("w", 10_030)
    for n in (9_980, 9_990, 10_010, 10_020):
        text = text.replace(f"w{n}\n", f"W{n}\n")
    repo.write("wide.txt", text)
    repo.write("next.txt", "N\n")
    after, wide = git_files(repo)  # git sorts by path
    assert len(wide.hunks) == 4
    whole = estimate_tokens(render_file(wide))
    assert [c.paths for c in chunk_diff([wide], whole).chunks] == [("wide.txt",)]
    assert len(chunk_diff([wide], whole - 1).chunks) == 2
    with_next = estimate_tokens(render_chunk(Chunk(0, (wide, after), 0)))
    assert [c.paths for c in chunk_diff([wide, after], with_next).chunks] == [
        ("wide.txt", "next.txt")
    ]
    assert len(chunk_diff([wide, after], with_next - 1).chunks) == 2
    for budget in range(20, whole + 5):
        for chunk in chunk_diff([wide, after], budget).chunks:
            assert chunk.estimated_tokens == estimate_tokens(render_chunk(chunk)) <= budget


# ------------------------------------------------------------------ group target


def test_group_target_must_be_positive(mixed: tuple[DiffFile, ...]) -> None:
    with pytest.raises(ValueError, match="group_tokens must be positive"):
        chunk_diff(mixed, 10_000, 0)


def test_group_target_groups_small_files_and_keeps_big_ones_whole(
    mixed: tuple[DiffFile, ...],
) -> None:
    reviewable = [
        f for f in mixed if f.hunks and not f.is_binary and f.status is not FileStatus.DELETED
    ]
    sizes = {f.path: estimate_tokens(render_file(f)) for f in reviewable}
    small = min(sizes.values())
    big_path = max(sizes, key=sizes.__getitem__)
    # A target below every file: one whole file per chunk, whatever its size.
    result = chunk_diff(mixed, 1_000_000, small - 1)
    assert [c.paths for c in result.chunks] == [(f.path,) for f in reviewable]
    assert [c.files for c in result.chunks] == [(f,) for f in reviewable]
    # The budget still splits a file bigger than itself, and the target never
    # groups beyond the budget.
    budget = sizes[big_path] - 1
    split = chunk_diff(mixed, budget, 10 * budget)
    assert split == chunk_diff(mixed, budget)
    assert len([f for c in split.chunks for f in c.files if f.path == big_path]) >= 2


def test_group_target_packs_next_fit_up_to_the_target(mixed: tuple[DiffFile, ...]) -> None:
    small = [f for f in mixed if f.path in ("a/one.py", "added.py", "b/three.py")]
    pair = estimate_tokens(render_chunk(Chunk(0, (small[0], small[1]), 0)))
    everything = estimate_tokens(render_chunk(Chunk(0, tuple(small), 0)))
    assert [c.paths for c in chunk_diff(small, everything, pair).chunks] == [
        ("a/one.py", "added.py"),
        ("b/three.py",),
    ]
    assert [c.paths for c in chunk_diff(small, everything, pair - 1).chunks] == [
        ("a/one.py",),
        ("added.py", "b/three.py"),
    ]
    assert len(chunk_diff(small, everything, everything).chunks) == 1


def test_invariants_hold_for_every_group_target(mixed: tuple[DiffFile, ...]) -> None:
    budget = 400
    plain = hunk_ids([f for c in chunk_diff(mixed, budget).chunks for f in c.files])
    for group in [*range(1, 450, 7), 5000]:
        result = chunk_diff(mixed, budget, group)
        sent = [f for c in result.chunks for f in c.files]
        assert hunk_ids(sent) == plain  # the same hunks, in order, whatever the grouping
        for chunk in result.chunks:
            assert chunk.estimated_tokens == estimate_tokens(render_chunk(chunk)) <= budget
            if len(chunk.files) > 1:
                assert chunk.estimated_tokens <= group
