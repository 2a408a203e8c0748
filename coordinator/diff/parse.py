"""Parse unified diffs — git's extended format and plain ``diff -u`` / patch files.

Pure: text in, typed values out. The parser is driven by the hunk headers' line
counts (never by guessing where a hunk ends), so content lines that look like
headers (a deleted ``-- x`` line, a ``--- a`` inside a hunk) are read as content,
and a hunk whose body does not match its header is reported, not half-parsed.

Paths: git's C-quoted names (``"a/caf\\303\\251.txt"``) are unquoted and decoded
as UTF-8; names with spaces are taken from ``rename from/to`` or ``---``/``+++``
lines, falling back to splitting the ``diff --git`` line in the middle (the way
git itself does when both names are equal). Git-format names lose their first
path component (``a/``, ``b/``, mnemonic ``i/``, ``w/`` ...), as ``git apply``
does by default; plain ``diff -u`` names lose ``a/``/``b/`` only when both sides
carry them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from coordinator.diff.model import DiffFile, FileStatus, Hunk, HunkLines
from coordinator.errors import CouncilError

__all__ = ["DiffParseError", "parse_unified_diff"]

DEV_NULL = "/dev/null"

_HUNK_HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)")
_BINARY_FILES = re.compile(r"Binary files (.+) and (.+) differ")
_SIMILARITY = re.compile(r"similarity index (\d+)%")
_OCTAL = re.compile(r"[0-7]{3}")
_INDEX = re.compile(r"index [0-9a-fA-F]+\.\.[0-9a-fA-F]+(?: (\d+))?")

_C_ESCAPES = {
    "a": 0x07,
    "b": 0x08,
    "t": 0x09,
    "n": 0x0A,
    "v": 0x0B,
    "f": 0x0C,
    "r": 0x0D,
    '"': 0x22,
    "\\": 0x5C,
}


class DiffParseError(CouncilError, ValueError):
    """The text is not a well-formed unified diff; the message names the patch line."""


def parse_unified_diff(text: str) -> tuple[DiffFile, ...]:
    """Parse every file of a unified diff, in order.

    Text that is not part of a file diff (commit messages of ``git format-patch``
    output, ``Only in ...`` lines of ``diff -r``, signatures) is skipped. Text with
    no file diff at all gives ``()``.
    """
    return _Parser(text).parse()


@dataclass
class _Header:
    """What the lines before a file's first hunk said about it."""

    start: int  # 0-based number of the first header line
    git_old: str | None = None  # names from the "diff --git" line, prefix stripped
    git_new: str | None = None
    minus: str | None = None  # names from ---/+++ (raw, DEV_NULL kept)
    plus: str | None = None
    rename_from: str | None = None
    rename_to: str | None = None
    copy_from: str | None = None
    copy_to: str | None = None
    new_file: bool = False
    deleted_file: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    index_mode: str | None = None
    similarity: int | None = None
    is_binary: bool = False
    binary_names: tuple[str, str] | None = None
    hunks: list[Hunk] = field(default_factory=list)


class _Parser:
    """A cursor over the text: lines are read where they are, never split out all at once.

    Only "\\n" ends a line: str.splitlines() would also split on \\r, \\x0b, \\x1c,
    \\u2028 ... that can legitimately sit inside a source line. Hunk bodies are
    checked by counting markers over whole runs of lines (C speed) and kept as one
    slice of the text each (``HunkLines``); only an unusual body is walked line by
    line, which is also what words the error when the body does not match.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.size = len(text)
        self.pos = 0  # offset of the current line's first character
        self.lineno = 0  # 0-based number of the current line, for messages

    # ----------------------------------------------------------------- cursor

    def _at_end(self) -> bool:
        return self.pos >= self.size

    def _eol(self, start: int) -> int:
        end = self.text.find("\n", start)
        return self.size if end < 0 else end

    def _line(self) -> str:
        return self.text[self.pos : self._eol(self.pos)]

    def _advance(self) -> None:
        self.pos = self._eol(self.pos) + 1
        self.lineno += 1

    def _next_starts_with(self, prefix: str) -> bool:
        following = self._eol(self.pos) + 1
        return following < self.size and self.text.startswith(prefix, following)

    def parse(self) -> tuple[DiffFile, ...]:
        files: list[DiffFile] = []
        while not self._at_end():
            line = _strip_cr(self._line())
            if line.startswith("diff --git "):
                files.append(self._git_file())
            elif line.startswith(("diff --cc ", "diff --combined ")):
                raise DiffParseError(
                    f"line {self.lineno + 1}: combined (merge) diffs are not supported; "
                    "diff against one parent instead"
                )
            elif self._at_plain_file_start():
                files.append(self._plain_file())
            elif line.startswith("Binary files ") and (m := _BINARY_FILES.fullmatch(line)):
                # `diff -r` reports binary files with this line alone.
                files.append(
                    _plain_diff_file(m.group(1), m.group(2), (), self.lineno, is_binary=True)
                )
                self._advance()
            else:
                self._advance()
        return tuple(files)

    # ----------------------------------------------------------------- git format

    def _git_file(self) -> DiffFile:
        header = _Header(start=self.lineno)
        header.git_old, header.git_new = _git_header_names(
            _strip_cr(self._line())[len("diff --git ") :]
        )
        self._advance()
        while not self._at_end():
            line = _strip_cr(self._line())
            if line.startswith("@@ ") or line.startswith("diff --git "):
                break
            if line.startswith("--- ") and self._next_starts_with("+++ "):
                header.minus = _patch_name(line[4:], self.lineno)
                self._advance()
                header.plus = _patch_name(_strip_cr(self._line())[4:], self.lineno)
                self._advance()
                break
            if line == "GIT binary patch":
                header.is_binary = True
                self._skip_binary_patch()
                break
            if not self._git_extended_header(header, line):
                break
            self._advance()
        header.hunks = self._hunks()
        return _git_diff_file(header)

    def _git_extended_header(self, header: _Header, line: str) -> bool:
        """Record one extended header line; False when the line is not one."""
        if line.startswith("old mode "):
            header.old_mode = line[len("old mode ") :]
        elif line.startswith("new mode "):
            header.new_mode = line[len("new mode ") :]
        elif line.startswith("new file mode "):
            header.new_file = True
            header.new_mode = line[len("new file mode ") :]
        elif line.startswith("deleted file mode "):
            header.deleted_file = True
            header.old_mode = line[len("deleted file mode ") :]
        elif line.startswith("rename from "):
            header.rename_from = _header_path(line[len("rename from ") :], self.lineno)
        elif line.startswith("rename to "):
            header.rename_to = _header_path(line[len("rename to ") :], self.lineno)
        elif line.startswith("copy from "):
            header.copy_from = _header_path(line[len("copy from ") :], self.lineno)
        elif line.startswith("copy to "):
            header.copy_to = _header_path(line[len("copy to ") :], self.lineno)
        elif m := _SIMILARITY.fullmatch(line):
            header.similarity = int(m.group(1))
        elif line.startswith("dissimilarity index "):
            pass  # -B rewrite pairs: nothing to keep
        elif m := _INDEX.fullmatch(line):
            header.index_mode = m.group(1)
        elif m := _BINARY_FILES.fullmatch(line):
            header.is_binary = True
            header.binary_names = (m.group(1), m.group(2))
        else:
            return False
        return True

    def _skip_binary_patch(self) -> None:
        # Base85 data lines never contain a space, so they cannot start a new file.
        self._advance()
        if self._at_end() or self.text.startswith("diff --git ", self.pos):
            return
        found = self.text.find("\ndiff --git ", self.pos)
        stop = self.size if found < 0 else found + 1
        self.lineno += self.text.count("\n", self.pos, stop)
        self.pos = stop

    # ----------------------------------------------------------------- plain format

    def _at_plain_file_start(self) -> bool:
        text = self.text
        if not text.startswith("--- ", self.pos):
            return False
        second = self._eol(self.pos) + 1
        if second >= self.size or not text.startswith("+++ ", second):
            return False
        third = self._eol(second) + 1
        return third < self.size and text.startswith("@@ ", third)

    def _plain_file(self) -> DiffFile:
        start = self.lineno
        minus = _patch_name(_strip_cr(self._line())[4:], self.lineno)
        self._advance()
        plus = _patch_name(_strip_cr(self._line())[4:], self.lineno)
        self._advance()
        return _plain_diff_file(minus, plus, tuple(self._hunks()), start)

    # ----------------------------------------------------------------- hunks

    def _hunks(self) -> list[Hunk]:
        hunks: list[Hunk] = []
        while not self._at_end() and self.text.startswith("@@ ", self.pos):
            hunks.append(self._hunk())
        self._check_no_stray_content()
        return hunks

    def _hunk(self) -> Hunk:
        header_lineno = self.lineno
        header_line = _strip_cr(self._line())
        m = _HUNK_HEADER.fullmatch(header_line)
        if m is None:
            raise DiffParseError(f"line {header_lineno + 1}: malformed hunk header {header_line!r}")
        old_start = int(m.group(1))
        old_count = int(m.group(2)) if m.group(2) is not None else 1
        new_start = int(m.group(3))
        new_count = int(m.group(4)) if m.group(4) is not None else 1
        self._advance()
        start = self.pos
        fast = self._counted_body(old_count, new_count)
        if fast is None:
            self._walk_body(header_lineno, header_line, old_count, new_count)
        else:
            self.pos, self.lineno = fast[0], self.lineno + fast[1]
        # "\\ No newline at end of file" lines after the last counted line belong here too.
        while not self._at_end() and self.text.startswith("\\", self.pos):
            if self.pos == start:
                raise DiffParseError(
                    f"line {self.lineno + 1}: '\\ No newline at end of file' with no line before it"
                )
            self._advance()
        lines: HunkLines | tuple[()] = ()
        if self.pos > start:
            body = self.text[start : self.pos - 1]  # without the last line's newline
            lines = HunkLines(body, old_start, new_start, new_count)
        return Hunk(old_start, old_count, new_start, new_count, m.group(5), lines)

    def _counted_body(self, old_count: int, new_count: int) -> tuple[int, int] | None:
        """End offset and line count of a plain hunk body, found by counting markers.

        Takes as many lines as the counts still need at least (a context line serves
        both sides) and counts their markers, until both sides are complete. None when
        the body holds anything unusual (an empty context line, a bad line, too many
        lines, the end of the text): ``_walk_body`` then reads it line by line.
        """
        text, size = self.text, self.size
        cur = self.pos
        if text.startswith("\\", cur):
            return None
        need_old, need_new = old_count, new_count
        taken = 0
        while need_old > 0 or need_new > 0:
            step = need_old if need_old > need_new else need_new
            first = cur
            for _ in range(step):
                if cur >= size:
                    return None
                end = text.find("\n", cur)
                cur = size + 1 if end < 0 else end + 1
            # Every line of the run starts right after a newline in [first - 1, cur - 1).
            lo, hi = first - 1, cur - 1
            adds = text.count("\n+", lo, hi)
            deletes = text.count("\n-", lo, hi)
            context = text.count("\n ", lo, hi)
            notes = text.count("\n\\", lo, hi)
            if adds + deletes + context + notes != step:
                return None
            need_old -= context + deletes
            need_new -= context + adds
            if need_old < 0 or need_new < 0:
                return None
            taken += step
        return cur, taken

    def _walk_body(self, header_lineno: int, header: str, old_count: int, new_count: int) -> None:
        """Read a hunk body line by line, raising a precise error where it goes wrong."""
        old_seen = new_seen = 0
        seen_line = False
        while old_seen < old_count or new_seen < new_count:
            if self._at_end():
                raise _count_error(header_lineno, header, old_seen, new_seen, "the patch ends")
            raw = self._line()
            marker = raw[:1]
            if marker == "\\":
                if not seen_line:
                    raise DiffParseError(
                        f"line {self.lineno + 1}: '\\ No newline at end of file' "
                        "with no line before it"
                    )
            elif marker == "+":
                new_seen += 1
                if new_seen > new_count:
                    raise _count_error(header_lineno, header, old_seen, new_seen, "too many")
            elif marker == "-":
                old_seen += 1
                if old_seen > old_count:
                    raise _count_error(header_lineno, header, old_seen, new_seen, "too many")
            elif marker in (" ", "", "\r"):
                # "" / "\r": an empty context line whose leading space was stripped
                # (mail clients, editors, diff.suppressBlankEmpty).
                old_seen += 1
                new_seen += 1
                if old_seen > old_count or new_seen > new_count:
                    raise _count_error(header_lineno, header, old_seen, new_seen, "too many")
            else:
                raise _count_error(
                    header_lineno, header, old_seen, new_seen, f"line {self.lineno + 1} ({raw!r})"
                )
            seen_line = True
            self._advance()

    def _check_no_stray_content(self) -> None:
        """A +/-/space line right after a file's hunks means the counts undercount the body."""
        if self._at_end():
            return
        line = self._line()
        if line == "-- ":
            return  # git format-patch signature separator
        if line.startswith("--- ") and self._next_starts_with("+++ "):
            return  # the next file of a plain diff
        if line[:1] in ("+", "-", " "):
            raise DiffParseError(
                f"line {self.lineno + 1}: unexpected diff content {line!r} "
                "(a hunk header's line counts are smaller than its body, or a header is missing)"
            )


def _count_error(
    header_lineno: int, header: str, old_seen: int, new_seen: int, where: str
) -> DiffParseError:
    return DiffParseError(
        f"line {header_lineno + 1}: hunk {header!r} does not match its body: "
        f"got {old_seen} old / {new_seen} new lines when {where} "
        "(the header's line counts are wrong or the patch is truncated)"
    )


# --------------------------------------------------------------------- building


def _git_diff_file(h: _Header) -> DiffFile:
    binary_old, binary_new = h.binary_names or (None, None)
    old_side = h.minus or binary_old  # raw, may be DEV_NULL
    new_side = h.plus or binary_new
    old = h.rename_from or h.copy_from or _prefixed_name(h.minus) or h.git_old
    new = h.rename_to or h.copy_to or _prefixed_name(h.plus) or h.git_new
    # "Binary files" names are a last resort: " and " inside a name makes them ambiguous.
    old = old or _prefixed_name(binary_old)
    new = new or _prefixed_name(binary_new)

    if h.new_file or old_side == DEV_NULL:
        status = FileStatus.ADDED
    elif h.deleted_file or new_side == DEV_NULL:
        status = FileStatus.DELETED
    elif h.rename_from is not None:
        status = FileStatus.RENAMED
    elif h.copy_from is not None:
        status = FileStatus.COPIED
    else:
        status = FileStatus.MODIFIED

    path = old if status is FileStatus.DELETED else new
    if path is None:
        raise DiffParseError(
            f"line {h.start + 1}: cannot tell the file name from the 'diff --git' line "
            "and no ---/+++ or rename lines name it"
        )
    old_mode = h.old_mode
    new_mode = h.new_mode
    if h.index_mode is not None:  # unchanged mode: git puts it on the index line
        old_mode = old_mode or h.index_mode
        new_mode = new_mode or h.index_mode
    renamed = status in (FileStatus.RENAMED, FileStatus.COPIED)
    return DiffFile(
        path=path,
        old_path=old if renamed else None,
        status=status,
        is_binary=h.is_binary,
        hunks=tuple(h.hunks),
        old_mode=old_mode,
        new_mode=new_mode,
        similarity=h.similarity if renamed else None,
    )


def _plain_diff_file(
    minus: str, plus: str, hunks: tuple[Hunk, ...], start: int, *, is_binary: bool = False
) -> DiffFile:
    old, new = _plain_names(minus, plus)
    if old is None and new is None:
        raise DiffParseError(f"line {start + 1}: both sides of the file diff are /dev/null")
    if new is None:
        status, path = FileStatus.DELETED, old
    else:
        status, path = (FileStatus.ADDED if old is None else FileStatus.MODIFIED), new
    assert path is not None  # for mypy: excluded above
    return DiffFile(
        path=_dot_slash(path), old_path=None, status=status, hunks=hunks, is_binary=is_binary
    )


def _plain_names(minus: str, plus: str) -> tuple[str | None, str | None]:
    """Names of a non-git diff: None for /dev/null; a/ and b/ dropped when every side has them."""
    old = None if minus == DEV_NULL else minus
    new = None if plus == DEV_NULL else plus
    if (old is None or old.startswith("a/")) and (new is None or new.startswith("b/")):
        old = old[2:] if old is not None else None
        new = new[2:] if new is not None else None
    return old, new


# --------------------------------------------------------------------- names


def _strip_cr(line: str) -> str:
    return line[:-1] if line.endswith("\r") else line


def _prefixed_name(name: str | None) -> str | None:
    """A git-format ---/+++ name without its prefix; None for a missing name or /dev/null."""
    return None if name is None or name == DEV_NULL else _strip_component(name)


def _strip_component(name: str) -> str:
    """Drop git's a/ b/ (or mnemonic) prefix: the first path component, as git apply -p1."""
    _, slash, rest = name.partition("/")
    return rest if slash and rest else name


def _dot_slash(name: str) -> str:
    return name[2:] if name.startswith("./") and len(name) > 2 else name


def _header_path(value: str, pos: int) -> str:
    """A ``rename from``/``copy to`` value: no prefix, maybe C-quoted."""
    if value.startswith('"'):
        name, end = _unquote(value, 0, pos)
        if end != len(value):
            raise DiffParseError(f"line {pos + 1}: unexpected text after quoted name {value!r}")
        return name
    return value


def _patch_name(value: str, pos: int) -> str:
    """The name on a ---/+++ line: quoted, or up to a tab (timestamps, git's space marker)."""
    if value.startswith('"'):
        return _unquote(value, 0, pos)[0]
    return value.split("\t", 1)[0]


def _git_header_names(rest: str) -> tuple[str | None, str | None]:
    """Old and new names from ``diff --git A B`` with prefixes stripped, None when ambiguous."""
    if rest.startswith('"'):
        try:
            old, end = _unquote(rest, 0, 0)
        except DiffParseError:
            return None, None
        tail = rest[end + 1 :] if rest[end : end + 1] == " " else None
        if tail is None:
            return None, None
        new = _quoted_or_plain(tail)
        return _strip_component(old), None if new is None else _strip_component(new)
    quoted_at = rest.find(' "')
    if quoted_at != -1 and rest.endswith('"'):
        new = _quoted_or_plain(rest[quoted_at + 1 :])
        if new is not None:
            return _strip_component(rest[:quoted_at]), _strip_component(new)
    # Both unquoted: equal names (after the prefix) split the line in the middle.
    if len(rest) % 2 == 1:
        half = len(rest) // 2
        old, new = rest[:half], rest[half + 1 :]
        if rest[half] == " " and _strip_component(old) == _strip_component(new):
            return _strip_component(old), _strip_component(new)
    if rest.count(" b/") == 1:
        old, new = rest.split(" b/")
        return _strip_component(old), new
    return None, None


def _quoted_or_plain(text: str) -> str | None:
    if not text.startswith('"'):
        return text
    try:
        name, end = _unquote(text, 0, 0)
    except DiffParseError:
        return None
    return name if end == len(text) else None


def _unquote(text: str, start: int, pos: int) -> tuple[str, int]:
    """Decode git's C-style quoted name starting at text[start] == '"'.

    Returns the name and the index just past the closing quote. Octal escapes are
    bytes (git quotes each byte of a UTF-8 name), so they are decoded together.
    """
    out = bytearray()
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return out.decode("utf-8", errors="replace"), i + 1
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        if i + 1 >= n:
            break
        esc = text[i + 1]
        if esc in _C_ESCAPES:
            out.append(_C_ESCAPES[esc])
            i += 2
        elif _OCTAL.fullmatch(text, i + 1, i + 4):
            out.append(int(text[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            raise DiffParseError(f"line {pos + 1}: bad escape '\\{esc}' in quoted name {text!r}")
    raise DiffParseError(f"line {pos + 1}: unterminated quoted name {text!r}")
