"""Parsed hunks keep their lines as patch text (HunkLines); every fast path agrees with lines.

The renderer, the chunker's size arithmetic, the line map and the counts have a
path for parsed hunks that never builds DiffLine objects. Each must give exactly
what the general path gives for the same hunk holding a tuple of DiffLines.
"""

from __future__ import annotations

import difflib
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.diff.chunking import chunk_diff
from coordinator.diff.linemap import LineMap, new_length_from_hunks
from coordinator.diff.model import DiffFile, Hunk, HunkLines
from coordinator.diff.parse import parse_unified_diff
from coordinator.diff.render import (
    describe_file,
    number_width,
    render_file,
    render_hunk,
    rendered_hunk_size,
)


def _as_tuples(file: DiffFile) -> DiffFile:
    return replace(file, hunks=tuple(replace(h, lines=tuple(h.lines)) for h in file.hunks))


def _diff(old: list[str], new: list[str], context: int, old_eol: bool, new_eol: bool) -> str:
    """A unified diff as GNU diff writes it, "\\ No newline at end of file" included."""
    a = [f"{s}\n" for s in old]
    b = [f"{s}\n" for s in new]
    if a and not old_eol:
        a[-1] = a[-1][:-1]
    if b and not new_eol:
        b[-1] = b[-1][:-1]
    out = []
    for line in difflib.unified_diff(a, b, "a/f.txt", "b/f.txt", n=context):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


_LINES = st.lists(
    st.sampled_from(["a", "b", "é", "日本", "x\r", "", "\r", " y", "-z", "+w", "\\ q", "\t"]),
    max_size=25,
)


@settings(database=None, max_examples=200, deadline=None)
@given(
    old=_LINES,
    new=_LINES,
    context=st.integers(min_value=0, max_value=3),
    old_eol=st.booleans(),
    new_eol=st.booleans(),
    start=st.sampled_from([0, 9990]),
)
def test_fast_paths_agree_with_built_lines(
    old: list[str], new: list[str], context: int, old_eol: bool, new_eol: bool, start: int
) -> None:
    # Leading unchanged lines push numbers past a column width of 4.
    filler = [f"keep {i}" for i in range(start)]
    files = parse_unified_diff(_diff(filler + old, filler + new, context, old_eol, new_eol))
    if not files:
        return
    (parsed,) = files
    built = _as_tuples(parsed)
    for fast, slow in zip(parsed.hunks, built.hunks, strict=True):
        assert isinstance(fast.lines, HunkLines)
        assert len(fast.lines) == len(slow.lines) == len(tuple(fast.lines))
        assert list(reversed(fast.lines)) == list(reversed(slow.lines))
        assert [fast.lines[i] for i in range(len(slow.lines))] == list(slow.lines)
        assert (fast.additions, fast.deletions) == (slow.additions, slow.deletions)
        assert number_width((fast,)) == number_width((slow,))
        for width in (4, number_width((slow,)), 9):
            text = render_hunk(slow, width)
            assert render_hunk(fast, width) == text
            assert render_hunk(fast, width) == text  # again: from the kept rendering
            assert rendered_hunk_size(fast, width) == (len(text.encode()), text.count("\n"))
    assert render_file(parsed) == render_file(built)
    assert describe_file(parsed) == describe_file(built)
    assert new_length_from_hunks(parsed) == new_length_from_hunks(built)
    fast_map, slow_map = LineMap([parsed]), LineMap([built])
    for line in range(len(filler) + len(new) + 3):
        assert fast_map.locate("f.txt", line) == slow_map.locate("f.txt", line)
        assert fast_map.new_line_text("f.txt", line) == slow_map.new_line_text("f.txt", line)
    for budget in (40, 200, 10_000):
        fast_chunks, slow_chunks = chunk_diff([parsed], budget), chunk_diff([built], budget)
        assert [c.estimated_tokens for c in fast_chunks.chunks] == [
            c.estimated_tokens for c in slow_chunks.chunks
        ]
        assert fast_chunks.unreviewed == slow_chunks.unreviewed


def test_hunk_lines_compare_by_patch_text() -> None:
    text = "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    (first,) = parse_unified_diff(text)
    (again,) = parse_unified_diff(text)
    (other,) = parse_unified_diff(text.replace("+c", "+d"))
    assert first == again
    assert hash(first) == hash(again)
    assert first.hunks[0].lines != other.hunks[0].lines
    assert first.hunks[0].lines != tuple(first.hunks[0].lines)  # a tuple is another kind
    assert isinstance(first.hunks[0], Hunk)


def test_a_big_parsed_diff_keeps_about_its_own_size() -> None:
    """Compact storage: parsed hunks hold the body text, not one object per line."""
    body = "".join(f"+line number {i} of a long added file\n" for i in range(20_000))
    text = f"--- /dev/null\n+++ b/big.txt\n@@ -0,0 +1,20000 @@\n{body}"
    (file,) = parse_unified_diff(text)
    lines = file.hunks[0].lines
    assert isinstance(lines, HunkLines)
    assert lines.body == body[:-1]
    assert len(lines) == 20_000
    assert file.additions == 20_000
    assert lines[19_999].new_lineno == 20_000


def test_unusual_bodies_render_like_built_lines() -> None:
    """Empty context lines without their space, CRLF and missing newlines: the general path."""
    text = (
        "--- a/x\n+++ b/x\n@@ -1,4 +1,4 @@\n a\n\n\r\n-b\r\n+c\r\n"
        "@@ -9,1 +9,1 @@\n-y\n\\ No newline at end of file\n+z\n\\ No newline at end of file\n"
    )
    (parsed,) = parse_unified_diff(text)
    built = _as_tuples(parsed)
    assert [(ln.kind, ln.text, ln.crlf) for ln in parsed.hunks[0].lines][1:3] == [
        ("context", "", False),
        ("context", "", True),
    ]
    assert render_file(parsed) == render_file(built)
    for fast, slow in zip(parsed.hunks, built.hunks, strict=True):
        text = render_hunk(slow, 4)
        assert rendered_hunk_size(fast, 4) == (len(text.encode()), text.count("\n"))
