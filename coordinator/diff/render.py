"""The diff text reviewers read: one block per file, every new-side line numbered.

Pure. Reviewers cite new-file line numbers, so each added and context line carries
its number in a right-aligned column; deleted lines leave it blank. The column has
one width per file block (at least ``MIN_NUMBER_WIDTH``), which makes the size of
a block a simple function of its hunks — chunking relies on that to pack chunks
without re-rendering them.

    ### app/db.py (modified; renamed from app/database.py)
    @@ -10,6 +10,8 @@ def handler():
      10   | unchanged line
      11 + | added line
         - | deleted line
         \\ | (no newline at end of file)
"""

from __future__ import annotations

from collections.abc import Iterable

from coordinator.diff.model import Chunk, DiffFile, FileStatus, Hunk, LineKind

__all__ = [
    "MIN_NUMBER_WIDTH",
    "describe_file",
    "number_width",
    "render_chunk",
    "render_file",
    "render_file_header",
    "render_hunk",
    "render_hunk_header",
]

MIN_NUMBER_WIDTH = 4
NO_NEWLINE_NOTE = "(no newline at end of file)"
_MARKERS = {LineKind.ADD: "+", LineKind.DELETE: "-", LineKind.CONTEXT: " "}


def render_chunk(chunk: Chunk) -> str:
    """The chunk as sent to a reviewer: file blocks separated by a blank line."""
    return "\n".join(render_file(f) for f in chunk.files)


def render_file(file: DiffFile) -> str:
    """Header line plus every hunk of ``file``; ends with a newline."""
    width = number_width(file.hunks)
    parts = [render_file_header(file), "\n"]
    parts.extend(render_hunk(h, width) for h in file.hunks)
    return "".join(parts)


def render_file_header(file: DiffFile) -> str:
    """``### path (description)``, without a line ending."""
    return f"### {file.path} ({describe_file(file)})"


def describe_file(file: DiffFile) -> str:
    """What happened to the file, e.g. ``modified; renamed from old.py; mode 100644 -> 100755``."""
    notes: list[str] = []
    if file.status in (FileStatus.RENAMED, FileStatus.COPIED):
        verb = "renamed" if file.status is FileStatus.RENAMED else "copied"
        if file.hunks:
            notes.append("modified")
        notes.append(f"{verb} from {file.old_path}" if file.old_path else verb)
    else:
        notes.append(file.status.value)
    if file.old_mode and file.new_mode and file.old_mode != file.new_mode:
        notes.append(f"mode {file.old_mode} -> {file.new_mode}")
    if file.is_binary:
        notes.append("binary")
    if any(ln.crlf for h in file.hunks for ln in h.lines if ln.kind is not LineKind.DELETE):
        notes.append("CRLF line endings")
    return "; ".join(notes)


def render_hunk_header(hunk: Hunk) -> str:
    """``@@ -a,b +c,d @@ section`` with explicit counts, without a line ending."""
    header = f"@@ -{hunk.old_start},{hunk.old_lines} +{hunk.new_start},{hunk.new_lines} @@"
    return f"{header} {hunk.section}" if hunk.section else header


def render_hunk(hunk: Hunk, width: int) -> str:
    """The hunk header and its numbered lines; ends with a newline."""
    blank = " " * width
    out = [render_hunk_header(hunk), "\n"]
    for line in hunk.lines:
        number = blank if line.new_lineno is None else f"{line.new_lineno:>{width}}"
        out.append(f"{number} {_MARKERS[line.kind]} | {line.text}\n")
        if line.no_newline_at_eof:
            out.append(f"{blank} \\ | {NO_NEWLINE_NOTE}\n")
    return "".join(out)


def number_width(hunks: Iterable[Hunk]) -> int:
    """Width of the line-number column for a file block holding ``hunks``."""
    highest = max(
        (ln.new_lineno for h in hunks for ln in h.lines if ln.new_lineno is not None), default=0
    )
    return max(MIN_NUMBER_WIDTH, len(str(highest)))
