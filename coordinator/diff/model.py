"""Typed values for a parsed unified diff. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import overload


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


class HunkLines(Sequence[DiffLine]):
    """A parsed hunk's lines, kept as the patch text and made into DiffLines on demand.

    One DiffLine object per line costs about five times the line's text, so a
    million-line diff would not fit the memory target; the hunk's body text costs
    it once. The parser checked the body against the header's counts before making
    one of these, so turning it into lines cannot fail, and the counts here can be
    answered from the text without building a line. Iterating builds the lines
    afresh each time; indexing keeps them (random access is for small, hot hunks).
    """

    __slots__ = (
        "_additions",
        "_body",
        "_cache",
        "_deletions",
        "_len",
        "_new_count",
        "_new_start",
        "_old_start",
        "_plain",
        "rendered",
    )

    def __init__(self, body: str, old_start: int, new_start: int, new_count: int) -> None:
        # ``body``: the hunk's lines as in the patch (marker first, "\\" lines kept),
        # joined by "\n", without the last line's line ending; never empty.
        self._body = body
        self._old_start = old_start
        self._new_start = new_start
        self._new_count = new_count
        self._len = body.count("\n") + 1 - self.count_marker("\\")
        self._cache: tuple[DiffLine, ...] | None = None
        self._plain: bool | None = None
        self._additions = self._deletions = -1  # counted when first asked
        # render.py's last rendering of these lines: (number column width, text). Every
        # reviewer's prompt holds the same hunks, so each is rendered once per review.
        self.rendered: tuple[int, str] | None = None

    @property
    def body(self) -> str:
        return self._body

    @property
    def last_new_lineno(self) -> int | None:
        """The highest new-file line number among the lines, None when none is on the new side."""
        return self._new_start + self._new_count - 1 if self._new_count else None

    @property
    def additions(self) -> int:
        if self._additions < 0:
            self._additions = self.count_marker("+")
        return self._additions

    @property
    def deletions(self) -> int:
        if self._deletions < 0:
            self._deletions = self.count_marker("-")
        return self._deletions

    def count_marker(self, marker: str) -> int:
        """How many lines of the body start with the one-character ``marker``."""
        body = self._body
        return body.count("\n" + marker) + body.startswith(marker)

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> DiffLine: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[DiffLine, ...]: ...

    def __getitem__(self, index: int | slice) -> DiffLine | tuple[DiffLine, ...]:
        if self._cache is None:
            self._cache = self._build()
        return self._cache[index]

    def __iter__(self) -> Iterator[DiffLine]:
        return iter(self._cache if self._cache is not None else self._build())

    def __reversed__(self) -> Iterator[DiffLine]:
        return reversed(self._cache if self._cache is not None else self._build())

    def __eq__(self, other: object) -> bool:
        # Equal when made from the same patch text; like a tuple and a list, a HunkLines
        # never equals another kind of sequence, so hashing needs no lines built.
        if not isinstance(other, HunkLines):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[str, int, int, int]:
        return (self._body, self._old_start, self._new_start, self._new_count)

    @property
    def is_plain(self) -> bool:
        """No CR, no "\\ No newline" line, no empty context line: one line per marker."""
        if self._plain is None:
            body = self._body
            self._plain = (
                body != ""
                and "\r" not in body
                and self._len == body.count("\n") + 1
                and "\n\n" not in body
                and body[0] != "\n"
                and body[-1] != "\n"
            )
        return self._plain

    def __repr__(self) -> str:
        return f"HunkLines({tuple(self)!r})"

    def _build(self) -> tuple[DiffLine, ...]:
        out: list[DiffLine] = []
        old_no, new_no = self._old_start, self._new_start
        add, delete, context = LineKind.ADD, LineKind.DELETE, LineKind.CONTEXT
        for raw in self._body.split("\n"):
            marker = raw[:1]
            if marker == "\\":
                last = out[-1]
                out[-1] = DiffLine(
                    last.kind, last.text, last.old_lineno, last.new_lineno, True, last.crlf
                )
                continue
            crlf = raw.endswith("\r")
            text = raw[1:-1] if crlf else raw[1:]
            if marker == "+":
                out.append(DiffLine(add, text, None, new_no, False, crlf))
                new_no += 1
            elif marker == "-":
                out.append(DiffLine(delete, text, old_no, None, False, crlf))
                old_no += 1
            else:  # " ", or an empty context line whose leading space was stripped
                out.append(DiffLine(context, text, old_no, new_no, False, crlf))
                old_no += 1
                new_no += 1
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    section: str  # the text after the second @@ (function context), may be ""
    lines: Sequence[DiffLine]  # a tuple, or HunkLines from the parser

    @property
    def new_end(self) -> int:
        """Last new-file line covered by this hunk (new_start - 1 when it covers none)."""
        return self.new_start + self.new_lines - 1

    @property
    def additions(self) -> int:
        if isinstance(self.lines, HunkLines):
            return self.lines.additions
        return sum(1 for ln in self.lines if ln.kind is LineKind.ADD)

    @property
    def deletions(self) -> int:
        if isinstance(self.lines, HunkLines):
            return self.lines.deletions
        return sum(1 for ln in self.lines if ln.kind is LineKind.DELETE)


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
        return sum(h.additions for h in self.hunks)

    @property
    def deletions(self) -> int:
        return sum(h.deletions for h in self.hunks)

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
