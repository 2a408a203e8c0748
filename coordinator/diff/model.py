"""Typed values for a parsed unified diff. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"
    COPIED = "copied"


class LineKind(StrEnum):
    ADD = "add"
    DELETE = "delete"
    CONTEXT = "context"


class NewSide(StrEnum):
    """Where the new side of a diff lives, so its files can be read back (line counts)."""

    COMMIT = "commit"  # Diff.head
    INDEX = "index"  # staged changes
    WORKTREE = "worktree"  # files on disk
    UNKNOWN = "unknown"  # a patch of unknown origin (--patch)


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: LineKind
    text: str  # without the leading +/-/space and without the line ending
    old_lineno: int | None
    new_lineno: int | None
    no_newline_at_eof: bool = False  # followed by "\ No newline at end of file"
    crlf: bool = False  # the line ended in \r\n in the diff


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    section: str  # the text after the second @@ (function context), may be ""
    lines: tuple[DiffLine, ...]

    @property
    def new_end(self) -> int:
        """Last new-file line covered by this hunk (new_start - 1 when it covers none)."""
        return self.new_start + self.new_lines - 1


@dataclass(frozen=True, slots=True)
class DiffFile:
    path: str  # new path; for deleted files the old path
    old_path: str | None  # set for renames and copies; otherwise None
    status: FileStatus
    is_binary: bool = False
    hunks: tuple[Hunk, ...] = ()
    old_mode: str | None = None
    new_mode: str | None = None
    similarity: int | None = None  # rename/copy similarity index, percent

    @property
    def additions(self) -> int:
        return sum(1 for h in self.hunks for ln in h.lines if ln.kind is LineKind.ADD)

    @property
    def deletions(self) -> int:
        return sum(1 for h in self.hunks for ln in h.lines if ln.kind is LineKind.DELETE)

    @property
    def mode_only(self) -> bool:
        return (
            not self.hunks
            and not self.is_binary
            and self.old_mode is not None
            and self.new_mode is not None
            and self.old_mode != self.new_mode
        )


@dataclass(frozen=True, slots=True)
class Diff:
    files: tuple[DiffFile, ...]
    base: str | None = None  # commit sha of the old side, when known
    head: str | None = None  # commit sha of the new side; None for the working tree
    source: str = ""  # human description: "working tree vs HEAD", "main...feature", "patch file x"
    new_side: NewSide = NewSide.UNKNOWN

    @property
    def additions(self) -> int:
        return sum(f.additions for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions for f in self.files)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A reviewer's share of the diff: whole hunks of one or more files within a token budget."""

    index: int
    files: tuple[DiffFile, ...]  # each a DiffFile holding only the hunks in this chunk
    estimated_tokens: int
    paths: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.paths:
            object.__setattr__(self, "paths", tuple(f.path for f in self.files))
