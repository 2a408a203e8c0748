"""Diff intake: parse git unified diffs, map new-file lines, chunk by token budget.

Everything here is pure except ``sources`` (runs git, reads files).
"""

from coordinator.diff.chunking import ChunkingResult, chunk_diff, estimate_tokens
from coordinator.diff.linemap import LineMap, new_length_from_hunks
from coordinator.diff.model import (
    Chunk,
    Diff,
    DiffFile,
    DiffLine,
    FileStatus,
    Hunk,
    HunkLines,
    LineKind,
    NewSide,
)
from coordinator.diff.parse import DiffParseError, parse_unified_diff
from coordinator.diff.render import describe_file, render_chunk, render_file, render_file_header
from coordinator.diff.sources import DiffRequest, DiffSourceError, new_file_line_counts, read_diff

__all__ = [
    "Chunk",
    "ChunkingResult",
    "Diff",
    "DiffFile",
    "DiffLine",
    "DiffParseError",
    "DiffRequest",
    "DiffSourceError",
    "FileStatus",
    "Hunk",
    "HunkLines",
    "LineKind",
    "LineMap",
    "NewSide",
    "chunk_diff",
    "describe_file",
    "estimate_tokens",
    "new_file_line_counts",
    "new_length_from_hunks",
    "parse_unified_diff",
    "read_diff",
    "render_chunk",
    "render_file",
    "render_file_header",
]
