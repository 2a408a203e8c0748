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

from coordinator.diff.model import Chunk, DiffFile, FileStatus, Hunk, HunkLines, LineKind

__all__ = [
    "MIN_NUMBER_WIDTH",
    "describe_file",
    "number_width",
    "render_chunk",
    "render_file",
    "render_file_header",
    "render_hunk",
    "render_hunk_header",
    "rendered_hunk_size",
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
    if any(_has_new_side_crlf(h) for h in file.hunks):
        notes.append("CRLF line endings")
    return "; ".join(notes)


def render_hunk_header(hunk: Hunk) -> str:
    """``@@ -a,b +c,d @@ section`` with explicit counts, without a line ending."""
    header = f"@@ -{hunk.old_start},{hunk.old_lines} +{hunk.new_start},{hunk.new_lines} @@"
    return f"{header} {hunk.section}" if hunk.section else header


def render_hunk(hunk: Hunk, width: int) -> str:
    """The hunk header and its numbered lines; ends with a newline."""
    lines = hunk.lines
    if isinstance(lines, HunkLines) and lines.is_plain:
        if lines.rendered is None or lines.rendered[0] != width:
            lines.rendered = (width, _render_plain_body(lines.body, hunk.new_start, width))
        return f"{render_hunk_header(hunk)}\n{lines.rendered[1]}"
    blank = " " * width
    out = [render_hunk_header(hunk), "\n"]
    for line in lines:
        number = blank if line.new_lineno is None else f"{line.new_lineno:>{width}}"
        out.append(f"{number} {_MARKERS[line.kind]} | {line.text}\n")
        if line.no_newline_at_eof:
            out.append(f"{blank} \\ | {NO_NEWLINE_NOTE}\n")
    return "".join(out)


def _render_plain_body(body: str, new_start: int, width: int) -> str:
    """render_hunk's lines straight from a plain patch body, with no DiffLine built."""
    deleted = " " * width + " - | "
    out: list[str] = []
    append = out.append
    number = new_start
    for raw in body.split("\n"):
        if raw[0] == "-":
            append(deleted + raw[1:])
        else:
            append(f"{number:>{width}} {raw[0]} | {raw[1:]}")
            number += 1
    out.append("")
    return "\n".join(out)


def rendered_hunk_size(hunk: Hunk, width: int) -> tuple[int, int]:
    """UTF-8 bytes and newlines of ``render_hunk(hunk, width)``, without rendering when it can.

    A plain body's rendered lines are its patch lines with the marker widened to the
    number column and " | ", when ``width`` is at least as wide as every number in it.
    """
    lines = hunk.lines
    if (
        isinstance(lines, HunkLines)
        and lines.is_plain
        and len(str(lines.last_new_lineno or 0)) <= width
    ):
        body = lines.body
        count = len(lines)
        body_bytes = len(body) if body.isascii() else len(body.encode("utf-8"))
        text_bytes = body_bytes - (count - 1) - count  # no newlines between, no markers
        header = render_hunk_header(hunk)
        header_bytes = len(header) if header.isascii() else len(header.encode("utf-8"))
        return header_bytes + 1 + count * (width + 6) + text_bytes, count + 1
    text = render_hunk(hunk, width)
    return len(text.encode("utf-8")), text.count("\n")


def number_width(hunks: Iterable[Hunk]) -> int:
    """Width of the line-number column for a file block holding ``hunks``."""
    highest = max((_last_new_lineno(h) for h in hunks), default=0)
    return max(MIN_NUMBER_WIDTH, len(str(highest)))


def _last_new_lineno(hunk: Hunk) -> int:
    lines = hunk.lines
    if isinstance(lines, HunkLines):
        return lines.last_new_lineno or 0
    return max((ln.new_lineno for ln in lines if ln.new_lineno is not None), default=0)


def _has_new_side_crlf(hunk: Hunk) -> bool:
    lines = hunk.lines
    if isinstance(lines, HunkLines) and "\r" not in lines.body:
        return False
    return any(ln.crlf for ln in lines if ln.kind is not LineKind.DELETE)
