"""Split a diff into reviewer-sized chunks of whole hunks. Pure.

Two sizes govern packing. The budget is the most diff one session may receive; a
file bigger than that is split between hunks (never inside one) into parts of its
own, and its last part stays open for the files after it. The group target is how
far small files are packed together: a file joins the open chunk while the two
together stay within the target, else it starts a chunk of its own, kept whole up
to the budget. A small target gives about a file per session, so a re-review after
one file changed runs few sessions again; a target equal to the budget packs as
tightly as the budget allows. Packing is sequential ("next fit") in diff order: git
orders files by path, so neighbours — usually related files of one directory —
land in the same chunk, and the result is deterministic.

Nothing is dropped silently: files that cannot or need not be reviewed, and hunks
too big for the budget on their own, come back as ``Unreviewed`` with a reason.

Sizes are measured on the rendered text (``render.py``) — exactly what reviewers
receive. A chunk's cost is ``estimate_tokens(render_chunk(chunk))``; packing
computes the same number arithmetically from per-hunk sizes, which is possible
because a rendered file block is its header plus its hunks, with a line-number
column whose width only depends on the largest line number in the block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from coordinator.diff.model import Chunk, DiffFile, FileStatus, Hunk
from coordinator.diff.render import (
    number_width,
    render_file_header,
    render_hunk_header,
    rendered_hunk_size,
)
from coordinator.findings import Unreviewed, UnreviewedReason

__all__ = ["ChunkingResult", "chunk_diff", "estimate_tokens"]

# Byte-pair tokenizers average ~4 bytes per token on English prose and ~3-3.5 on
# code, whose punctuation and identifiers split finely. 3.5 bytes plus one token
# per line (newline and indentation runs) errs on the high side, which is the safe
# side for a budget; it needs no tokenizer download and is the same for every model.
_BYTES_PER_TOKEN_NUM = 7  # 3.5 == 7 / 2
_BYTES_PER_TOKEN_DEN = 2


def estimate_tokens(text: str) -> int:
    """Offline token estimate: ceil(utf-8 bytes / 3.5) + one per line break."""
    return _tokens(_Size.of(text))


@dataclass(frozen=True, slots=True)
class ChunkingResult:
    chunks: tuple[Chunk, ...]
    unreviewed: tuple[Unreviewed, ...]


def chunk_diff(
    files: Sequence[DiffFile], budget_tokens: int, group_tokens: int | None = None
) -> ChunkingResult:
    """Pack the reviewable hunks of ``files`` into chunks of at most ``budget_tokens``.

    Files are grouped into one chunk only while it stays within ``group_tokens``
    (default: the budget); a file is kept whole up to the budget either way.
    """
    if budget_tokens <= 0:
        raise ValueError(f"budget_tokens must be positive, got {budget_tokens}")
    if group_tokens is not None and group_tokens <= 0:
        raise ValueError(f"group_tokens must be positive, got {group_tokens}")
    group = budget_tokens if group_tokens is None else min(group_tokens, budget_tokens)
    packer = _Packer(budget_tokens, group)
    unreviewed: list[Unreviewed] = []
    for file in files:
        skipped = _not_reviewable(file)
        if skipped is not None:
            unreviewed.append(skipped)
            continue
        header = _Size.of(render_file_header(file) + "\n")
        sendable: list[_MeasuredHunk] = []
        for hunk in file.hunks:
            measured = _MeasuredHunk.of(hunk)
            alone = _tokens(header + measured.size)
            if alone > budget_tokens:
                unreviewed.append(
                    Unreviewed(
                        path=file.path,
                        reason=UnreviewedReason.BUDGET.value,
                        detail=f"hunk {render_hunk_header(replace(hunk, section=''))} "
                        f"needs ~{alone} tokens > budget {budget_tokens}",
                    )
                )
            else:
                sendable.append(measured)
        if sendable:
            packer.add_file(file, header, sendable)
    return ChunkingResult(chunks=packer.finish(), unreviewed=tuple(unreviewed))


def _not_reviewable(file: DiffFile) -> Unreviewed | None:
    if file.status is FileStatus.DELETED:
        return Unreviewed(path=file.path, reason=UnreviewedReason.DELETED.value)
    if file.is_binary:
        return Unreviewed(path=file.path, reason=UnreviewedReason.BINARY.value)
    if file.hunks:
        return None
    if file.mode_only:
        detail = f"mode {file.old_mode} -> {file.new_mode}, content unchanged"
        return Unreviewed(path=file.path, reason=UnreviewedReason.MODE_ONLY.value, detail=detail)
    if file.status in (FileStatus.RENAMED, FileStatus.COPIED):
        verb = "renamed" if file.status is FileStatus.RENAMED else "copied"
        detail = f"{verb} from {file.old_path}, content unchanged"
    elif file.status is FileStatus.ADDED:
        detail = "new empty file"
    else:
        detail = "no content changes"
    return Unreviewed(path=file.path, reason=UnreviewedReason.EMPTY.value, detail=detail)


# ------------------------------------------------------------------------ sizes


@dataclass(frozen=True, slots=True)
class _Size:
    """Rendered text size: what estimate_tokens needs, and additive over concatenation."""

    bytes: int = 0
    newlines: int = 0

    @classmethod
    def of(cls, text: str) -> _Size:
        nbytes = len(text) if text.isascii() else len(text.encode("utf-8"))
        return cls(nbytes, text.count("\n"))

    def __add__(self, other: _Size) -> _Size:
        return _Size(self.bytes + other.bytes, self.newlines + other.newlines)


_SEPARATOR = _Size.of("\n")  # render_chunk's blank line between file blocks


def _tokens(size: _Size) -> int:
    ceil_div = -(-size.bytes * _BYTES_PER_TOKEN_DEN // _BYTES_PER_TOKEN_NUM)
    return ceil_div + size.newlines


@dataclass(frozen=True, slots=True)
class _MeasuredHunk:
    """A hunk's rendered size at its own column width; wider columns add ``rows`` bytes each."""

    hunk: Hunk
    size: _Size
    width: int
    rows: int  # rendered lines that carry the number column

    @classmethod
    def of(cls, hunk: Hunk) -> _MeasuredHunk:
        width = number_width((hunk,))
        nbytes, newlines = rendered_hunk_size(hunk, width)
        return cls(hunk, _Size(nbytes, newlines), width, newlines - 1)  # rows: all but @@


@dataclass(slots=True)
class _FilePart:
    """A growing subset of one file's hunks and its exact rendered size."""

    header: _Size
    hunks: list[_MeasuredHunk] = field(default_factory=list)
    own: _Size = field(default_factory=_Size)  # sum of hunk sizes at their own widths
    rows: int = 0
    width_rows: int = 0  # sum of width * rows
    width: int = 0

    def size_with(self, extra: _MeasuredHunk | None = None) -> _Size:
        own, rows, width_rows, width = self.own, self.rows, self.width_rows, self.width
        if extra is not None:
            own = own + extra.size
            rows += extra.rows
            width_rows += extra.width * extra.rows
            width = max(width, extra.width)
        widened = width * rows - width_rows  # bytes added by padding to the block's width
        return self.header + own + _Size(widened, 0)

    def add(self, hunk: _MeasuredHunk) -> None:
        self.hunks.append(hunk)
        self.own = self.own + hunk.size
        self.rows += hunk.rows
        self.width_rows += hunk.width * hunk.rows
        self.width = max(self.width, hunk.width)


# ------------------------------------------------------------------------ packing


class _Packer:
    def __init__(self, budget: int, group: int) -> None:
        self.budget = budget
        self.group = group
        self.chunks: list[Chunk] = []
        self.open_files: list[DiffFile] = []
        self.open_size = _Size()

    def _fits(self, size: _Size) -> bool:
        return _tokens(size) <= self.budget

    def _joins(self, size: _Size) -> bool:
        """Whether a whole file of ``size`` may join the open chunk's files."""
        return bool(self.open_files) and _tokens(self._joined(size)) <= self.group

    def _joined(self, size: _Size) -> _Size:
        return self.open_size + _SEPARATOR + size if self.open_files else size

    def add_file(self, file: DiffFile, header: _Size, hunks: list[_MeasuredHunk]) -> None:
        whole = _FilePart(header)
        for hunk in hunks:
            whole.add(hunk)
        whole_size = whole.size_with()
        if self._joins(whole_size):
            self._append(file, whole, whole_size)
            return
        self._close()
        if self._fits(whole_size):
            self._append(file, whole, whole_size)
            return
        # Too big for one chunk: split between hunks. Each hunk fits alone (checked
        # by the caller), so every part holds at least one.
        part = _FilePart(header)
        for hunk in hunks:
            if part.hunks and not self._fits(part.size_with(hunk)):
                self._append(file, part, part.size_with())
                self._close()
                part = _FilePart(header)
            part.add(hunk)
        self._append(file, part, part.size_with())

    def _append(self, file: DiffFile, part: _FilePart, size: _Size) -> None:
        hunks = tuple(m.hunk for m in part.hunks)
        self.open_size = self._joined(size)
        self.open_files.append(file if hunks == file.hunks else replace(file, hunks=hunks))

    def _close(self) -> None:
        if not self.open_files:
            return
        # Equals estimate_tokens(render_chunk(chunk)) by construction (tests check it),
        # so the chunk's text is not rendered here: reviewers' prompts render it once.
        tokens = _tokens(self.open_size)
        self.chunks.append(Chunk(len(self.chunks), tuple(self.open_files), tokens))
        self.open_files = []
        self.open_size = _Size()

    def finish(self) -> tuple[Chunk, ...]:
        self._close()
        return tuple(self.chunks)
