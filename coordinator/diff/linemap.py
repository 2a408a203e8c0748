"""Answer "where does new-file line N of PATH sit relative to the diff?". Pure.

Built once per review in O(total diff lines); each lookup is a dict hit plus a
binary search over the file's hunks, so diffs of many thousand files stay cheap.

A path that occurs in several file diffs (a concatenation of patches, or git's
delete + add pair for a file that became a symlink) maps to its last non-deleted
occurrence: that is the file's final state.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coordinator.diff.model import DiffFile, DiffLine, FileStatus, HunkLines, LineKind
from coordinator.findings import Anchor

__all__ = ["LineMap", "new_length_from_hunks"]


def new_length_from_hunks(file: DiffFile) -> int | None:
    """The new file's line count when the hunks alone prove it, else None.

    Exact for added files (one hunk holds all of it) and when the last new-side
    line is marked "\\ No newline at end of file"; otherwise lines may follow the
    last hunk and only the file itself can tell.
    """
    if file.status is FileStatus.DELETED or file.is_binary:
        return None
    if file.status is FileStatus.ADDED:
        return max((h.new_end for h in file.hunks), default=0)
    for hunk in reversed(file.hunks):
        for line in reversed(hunk.lines):
            if line.new_lineno is not None:
                return line.new_lineno if line.no_newline_at_eof else None
    return None


@dataclass(frozen=True, slots=True)
class _FileLines:
    reviewable: bool  # not deleted, not binary
    length: int | None  # new-side line count; None when unknown
    starts: tuple[int, ...]  # first new line number of each hunk with new-side lines, ascending
    hunks: tuple[Sequence[DiffLine], ...]  # each such hunk's lines
    # Each such hunk's new-side lines, kept when a lookup first lands in it (None until
    # then): DiffLines, or for a parsed hunk its raw patch lines, so no DiffLine is
    # ever built for them (see `_row`).
    rows: list[Sequence[DiffLine] | list[str] | str | None]


class LineMap:
    """Where new-file lines sit: added, context, elsewhere in a changed file, or outside."""

    __slots__ = ("_files",)

    def __init__(
        self, files: Sequence[DiffFile], new_line_counts: Mapping[str, int] | None = None
    ) -> None:
        counts = new_line_counts or {}
        table: dict[str, _FileLines] = {}
        for file in files:
            previous = table.get(file.path)
            if previous is not None and previous.reviewable and file.status is FileStatus.DELETED:
                continue  # keep the surviving side of a delete + add pair
            table[file.path] = _index_file(file, counts.get(file.path))
        self._files = table

    def has_path(self, path: str) -> bool:
        """True when ``path`` names a file of the diff (including deleted and binary ones)."""
        return path in self._files

    def is_reviewable(self, path: str) -> bool:
        """True when ``path`` is a changed file with text on the new side."""
        entry = self._files.get(path)
        return entry is not None and entry.reviewable

    def locate(self, path: str, line: int) -> Anchor:
        entry = self._files.get(path)
        if entry is None or not entry.reviewable or line < 1:
            return Anchor.OUTSIDE
        row = _row(entry, line)
        if row is not None:
            if isinstance(row, str):
                return Anchor.ADDED if row[:1] == "+" else Anchor.CONTEXT
            return Anchor.ADDED if row.kind is LineKind.ADD else Anchor.CONTEXT
        if entry.length is None or line <= entry.length:
            return Anchor.FILE
        return Anchor.OUTSIDE

    def new_line_text(self, path: str, line: int) -> str | None:
        """Text of new-file line ``line`` when a hunk shows it (added or context)."""
        entry = self._files.get(path)
        if entry is None or not entry.reviewable:
            return None
        row = _row(entry, line)
        if row is None or not isinstance(row, str):
            return None if row is None else row.text
        return row[1:-1] if row.endswith("\r") else row[1:]


def _index_file(file: DiffFile, count: int | None) -> _FileLines:
    reviewable = file.status is not FileStatus.DELETED and not file.is_binary
    if not reviewable:
        return _FileLines(False, None, (), (), [])
    blocks: list[tuple[int, Sequence[DiffLine]]] = []
    for hunk in file.hunks:
        lines = hunk.lines
        if isinstance(lines, HunkLines):
            # Parsed hunks are numbered from new_start, checked against the header.
            if lines.last_new_lineno is not None:
                blocks.append((hunk.new_start, lines))
            continue
        new_side = tuple(ln for ln in lines if ln.new_lineno is not None)
        if new_side:
            blocks.append((new_side[0].new_lineno or 0, new_side))
    blocks.sort(key=lambda block: block[0])
    length = count if count is not None else new_length_from_hunks(file)
    return _FileLines(
        True,
        length,
        tuple(start for start, _ in blocks),
        tuple(lines for _, lines in blocks),
        [None] * len(blocks),
    )


def _row(entry: _FileLines, line: int) -> DiffLine | str | None:
    """New-file line ``line`` as a hunk shows it: a DiffLine, or a parsed hunk's patch line."""
    i = bisect_right(entry.starts, line) - 1
    if i < 0:
        return None
    rows = entry.rows[i]
    if rows is None:
        lines = entry.hunks[i]
        if isinstance(lines, HunkLines):
            last = lines.last_new_lineno or 0
            if line > last:
                return None  # between hunks: no need to look at this one's lines
            # Patch lines of the new side: everything but "-" lines and "\\" notes. A
            # short hunk keeps them as one string, split again at each lookup (about as
            # cheap as building the list once): a string per line would cost a big
            # merge a page fault every few lookups and the garbage collector a visit each.
            new_side = _OLD_SIDE_LINE.sub("", "\n" + lines.body)[1:]
            short = last - entry.starts[i] < _SPLIT_AT_LOOKUP
            rows = new_side if short else new_side.split("\n")
        else:
            rows = tuple(ln for ln in lines if ln.new_lineno is not None)
        entry.rows[i] = rows
    offset = line - entry.starts[i]
    if isinstance(rows, str):
        split = rows.split("\n", offset + 1)
        return split[offset] if offset < len(split) else None
    return rows[offset] if offset < len(rows) else None


_OLD_SIDE_LINE = re.compile(r"\n[-\\][^\n]*")  # after a "\n" put in front of the body
_SPLIT_AT_LOOKUP = 64  # lines; splitting a short hunk costs about what a lookup does
