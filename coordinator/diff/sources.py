"""Get the diff to review: from git (working tree, index, revisions) or a patch file.

This is the I/O edge of the diff package; everything else in it is pure. Calls are
blocking — async callers run them in a worker thread.

What each request means (the ``council review`` selection flags):

- nothing: staged + unstaged changes against HEAD (``git diff HEAD``); in a
  repository without commits, against the empty tree. Like ``git diff HEAD``,
  untracked files are not included — ``git add -N`` makes them visible.
- ``staged``: the index against HEAD (``git diff --cached``).
- ``base=REF``: from merge-base(REF, HEAD) to the working tree; with ``staged``,
  to the index.
- ``range``: ``A..B`` (A to B), ``A...B`` (merge-base(A, B) to B), or a single
  revision ``A`` (A to the working tree), as ``git diff`` reads them; an empty
  side means HEAD.
- ``patch``: a unified diff read from a file, or stdin for ``"-"``. Relative file
  names resolve against the current directory, like any command-line file.

Git runs with a fixed format whatever the user's config says (prefixes, quoting,
colour, external diff drivers, textconv, relative paths, submodule format), and
revisions are resolved to commit SHAs first so the diff and ``Diff.base``/``head``
describe the same commits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from coordinator.diff.linemap import new_length_from_hunks
from coordinator.diff.model import Diff, DiffFile, FileStatus, NewSide
from coordinator.diff.parse import DiffParseError, parse_unified_diff
from coordinator.errors import CouncilError

__all__ = ["DiffRequest", "DiffSourceError", "new_file_line_counts", "read_diff"]

CONTEXT_LINES = 3

# Config that would otherwise change the text git prints.
_FIXED_CONFIG = (
    "core.quotePath=false",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.relative=false",
    "diff.suppressBlankEmpty=false",
    "diff.submodule=short",
    "color.ui=never",
    "color.diff=never",
)
_DIFF_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "-M",
    "-C",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--no-relative",
    "--submodule=short",
    f"--unified={CONTEXT_LINES}",
)
# Environment that changes git diff's output behind the options' back.
_DROPPED_ENV = ("GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS", "GIT_PAGER", "GIT_DIFF_PATH_COUNTER")
# Modes whose "content" is one line: a symlink's target, a submodule's commit.
_ONE_LINE_MODES = ("120000", "160000")
_CAT_FILE_BATCH = 500


class DiffSourceError(CouncilError):
    """The requested diff cannot be produced; the message says why (git's own words included)."""


@dataclass(frozen=True, slots=True)
class DiffRequest:
    range: str | None = None
    base: str | None = None
    staged: bool = False
    patch: str | None = None  # a file name, or "-" for stdin


def read_diff(repo: Path, request: DiffRequest, stdin_text: str | None = None) -> Diff:
    """Produce the diff ``request`` asks for in ``repo``.

    ``stdin_text`` is the diff for ``patch="-"``; when None, stdin is read here.
    Raises DiffSourceError for impossible requests and git failures, DiffParseError
    for a malformed patch.
    """
    _check_request(request)
    if request.patch is not None:
        return _read_patch(request.patch, stdin_text)
    git = _Git(repo)
    git.check_repository()
    if request.range is not None:
        return _range_diff(git, request.range)
    return _working_diff(git, request)


def new_file_line_counts(repo: Path, diff: Diff) -> dict[str, int]:
    """Line count of each non-deleted, non-binary file on the new side of ``diff``.

    Read from the commit (``Diff.head``), the index or the working tree, whichever
    the diff compared. For a patch, the working tree file counts when it exists and
    is long enough to hold the patch's new lines; otherwise the hunks give the count
    when they prove it (added files, a final line without newline) and the path is
    left out — unknown length — when they do not.
    """
    wanted = [f for f in diff.files if f.status is not FileStatus.DELETED and not f.is_binary]
    counts: dict[str, int] = {}
    rest: list[DiffFile] = []
    for file in wanted:
        if file.new_mode in _ONE_LINE_MODES:
            counts[file.path] = 1
        else:
            rest.append(file)
    if not rest:
        return counts
    if diff.head is not None or diff.new_side is NewSide.INDEX:
        prefix = f"{diff.head}:" if diff.head is not None else ":"
        counts.update(_Git(repo).blob_line_counts([f.path for f in rest], prefix))
    elif diff.new_side is NewSide.WORKTREE:
        root = _Git(repo).toplevel()
        for file in rest:
            found = _worktree_line_count(root, file.path)
            if found is not None:
                counts[file.path] = found
    else:
        root = _Git(repo).toplevel_or_none() or repo
        for file in rest:
            found = _worktree_line_count(root, file.path)
            if found is not None and found >= _highest_new_line(file):
                counts[file.path] = found
            elif (derived := new_length_from_hunks(file)) is not None:
                counts[file.path] = derived
    return counts


def new_file_texts(repo: Path, diff: Diff, paths: Iterable[str]) -> dict[str, str]:
    """Text of files on the new side of ``diff`` (commit, index or working tree, as compared).

    Deleted and binary files, and files that cannot be read, are left out.
    """
    wanted = set(paths)
    files = [
        f.path
        for f in diff.files
        if f.path in wanted and f.status is not FileStatus.DELETED and not f.is_binary
    ]
    if not files:
        return {}
    if diff.head is not None or diff.new_side is NewSide.INDEX:
        prefix = f"{diff.head}:" if diff.head is not None else ":"
        raw = _Git(repo).blobs(files, prefix)
    else:
        root = (_Git(repo).toplevel_or_none() or repo).resolve()
        raw = {}
        for relative in files:
            path = root / relative
            try:
                if path.resolve().is_relative_to(root) and path.is_file():
                    raw[relative] = path.read_bytes()
            except OSError:
                continue
    return {path: data.decode("utf-8", errors="replace") for path, data in raw.items()}


# ---------------------------------------------------------------------- requests


def _check_request(request: DiffRequest) -> None:
    chosen = [
        name
        for name, given in (
            ("RANGE", request.range is not None),
            ("--base", request.base is not None),
            ("--staged", request.staged),
        )
        if given
    ]
    if request.patch is not None and chosen:
        raise DiffSourceError(
            f"--patch cannot be combined with {' or '.join(chosen)}: the patch already "
            "says what changed"
        )
    if request.range is not None and request.base is not None:
        raise DiffSourceError("give either a RANGE or --base REF, not both: each sets the base")
    if request.range is not None and request.staged:
        raise DiffSourceError(
            "--staged compares the index with HEAD (or --base); it cannot take a RANGE"
        )
    for label, value in (("RANGE", request.range), ("--base", request.base)):
        if value is not None and not value.strip():
            raise DiffSourceError(f"{label} is empty")
    if request.patch == "":
        raise DiffSourceError("--patch needs a file name, or - for stdin")


def _read_patch(patch: str, stdin_text: str | None) -> Diff:
    if patch == "-":
        text = stdin_text if stdin_text is not None else sys.stdin.read()
        source = "patch from stdin"
    else:
        try:
            text = Path(patch).read_bytes().decode("utf-8", errors="replace")
        except OSError as err:
            raise DiffSourceError(f"cannot read patch file {patch}: {err.strerror}") from err
        source = f"patch file {patch}"
    text = text.removeprefix("\ufeff")
    try:
        files = parse_unified_diff(text)
    except DiffParseError as err:
        raise DiffParseError(f"{source}: {err}") from err
    if not files and text.strip():
        raise DiffSourceError(f"{source} holds no unified diff")
    return Diff(files=files, source=source, new_side=NewSide.UNKNOWN)


def _working_diff(git: _Git, request: DiffRequest) -> Diff:
    head = git.head_commit()
    target = "the index" if request.staged else "working tree"
    side = NewSide.INDEX if request.staged else NewSide.WORKTREE
    if request.base is not None:
        if head is None:
            raise DiffSourceError("--base needs a commit on HEAD, and this repository has none yet")
        ref = _revision(request.base)
        merge_base = git.merge_base(git.resolve_commit(ref), head, f"{ref} and HEAD")
        files = git.diff(merge_base, cached=request.staged)
        source = f"{target} vs merge-base of {ref} and HEAD ({merge_base[:12]})"
        return Diff(files=files, base=merge_base, source=source, new_side=side)
    if head is None:
        files = git.diff(git.empty_tree(), cached=request.staged)
        return Diff(files=files, source=f"{target} (no commits yet)", new_side=side)
    files = git.diff(head, cached=request.staged)
    label = "staged changes" if request.staged else "working tree"
    return Diff(files=files, base=head, source=f"{label} vs HEAD", new_side=side)


def _range_diff(git: _Git, spec: str) -> Diff:
    text = spec.strip()
    if "..." in text:
        left, right = (_revision(part or "HEAD") for part in text.split("...", 1))
        new = git.resolve_commit(right)
        old = git.merge_base(git.resolve_commit(left), new, f"{left} and {right}")
        return Diff(git.diff(old, new), base=old, head=new, source=text, new_side=NewSide.COMMIT)
    if ".." in text:
        left, right = (_revision(part or "HEAD") for part in text.split("..", 1))
        old, new = git.resolve_commit(left), git.resolve_commit(right)
        return Diff(git.diff(old, new), base=old, head=new, source=text, new_side=NewSide.COMMIT)
    old = git.resolve_commit(_revision(text))
    return Diff(
        git.diff(old), base=old, source=f"working tree vs {text}", new_side=NewSide.WORKTREE
    )


def _revision(value: str) -> str:
    rev = value.strip()
    if not rev:
        raise DiffSourceError("empty revision in RANGE")
    if rev.startswith("-"):
        raise DiffSourceError(f"revision {rev!r} must not start with '-'")
    return rev


# ---------------------------------------------------------------------- git


class _Git:
    """Runs git in one repository with a fixed output format."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        argv = ["git", "--no-pager", "-C", str(self.repo)]
        for setting in _FIXED_CONFIG:
            argv += ["-c", setting]
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        try:
            return subprocess.run(
                [*argv, *args],
                input=stdin if stdin is not None else b"",
                capture_output=True,
                env=env,
                check=False,
            )
        except FileNotFoundError as err:
            raise DiffSourceError("git is not installed or not on PATH") from err

    def output(self, *args: str, what: str) -> str:
        done = self.run(*args)
        if done.returncode != 0:
            raise DiffSourceError(f"{what} failed: {_stderr(done)}")
        return done.stdout.decode("utf-8", errors="replace")

    def check_repository(self) -> None:
        done = self.run("rev-parse", "--git-dir")
        if done.returncode != 0:
            raise DiffSourceError(f"{self.repo} is not a git repository: {_stderr(done)}")

    def toplevel(self) -> Path:
        return Path(self.output("rev-parse", "--show-toplevel", what="git rev-parse").strip())

    def toplevel_or_none(self) -> Path | None:
        try:
            done = self.run("rev-parse", "--show-toplevel")
        except DiffSourceError:  # no git at all: a patch can still be read
            return None
        if done.returncode != 0:
            return None
        return Path(done.stdout.decode("utf-8", errors="replace").strip())

    def head_commit(self) -> str | None:
        """HEAD's commit SHA, or None in a repository with no commits yet."""
        done = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if done.returncode != 0:
            return None
        return done.stdout.decode().strip()

    def resolve_commit(self, rev: str) -> str:
        done = self.run("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
        if done.returncode != 0:
            raise DiffSourceError(f"unknown revision {rev!r} (git: {_stderr(done)})")
        return done.stdout.decode().strip()

    def merge_base(self, left: str, right: str, label: str) -> str:
        done = self.run("merge-base", left, right)
        if done.returncode != 0:
            reason = _stderr(done) if done.stderr.strip() else "no common ancestor"
            raise DiffSourceError(f"cannot find a merge base of {label}: {reason}")
        return done.stdout.decode().strip()

    def empty_tree(self) -> str:
        done = self.run("hash-object", "-t", "tree", "--stdin")
        if done.returncode != 0:
            raise DiffSourceError(f"git hash-object failed: {_stderr(done)}")
        return done.stdout.decode().strip()

    def diff(self, *revs: str, cached: bool = False) -> tuple[DiffFile, ...]:
        options = (*_DIFF_OPTIONS, "--cached") if cached else _DIFF_OPTIONS
        text = self.output("diff", *options, "--end-of-options", *revs, "--", what="git diff")
        try:
            return parse_unified_diff(text)
        except DiffParseError as err:  # git's own output: a parser gap, worth a clear report
            raise DiffParseError(f"cannot parse git diff {' '.join(revs)}: {err}") from err

    def blob_line_counts(self, paths: Sequence[str], prefix: str) -> dict[str, int]:
        """Line counts of ``prefix + path`` blobs (``<sha>:`` or ``:`` for the index)."""
        return {path: _count_lines(data) for path, data in self.blobs(paths, prefix).items()}

    def blobs(self, paths: Sequence[str], prefix: str) -> dict[str, bytes]:
        """Contents of ``prefix + path`` blobs; paths git cannot name or find are left out."""
        found: dict[str, bytes] = {}
        usable = [p for p in paths if "\n" not in p and "\r" not in p]
        for start in range(0, len(usable), _CAT_FILE_BATCH):
            batch = usable[start : start + _CAT_FILE_BATCH]
            names = "".join(f"{prefix}{p}\n" for p in batch).encode("utf-8")
            done = self.run("cat-file", "--batch", stdin=names)
            if done.returncode != 0:
                raise DiffSourceError(f"git cat-file failed: {_stderr(done)}")
            for path, data in zip(batch, _batch_blobs(done.stdout, len(batch)), strict=True):
                if data is not None:
                    found[path] = data
        return found


def _batch_blobs(out: bytes, expected: int) -> Iterable[bytes | None]:
    """Contents from ``git cat-file --batch`` output, None for missing or non-blob objects."""
    pos = 0
    for _ in range(expected):
        end = out.index(b"\n", pos)
        fields = out[pos:end].split(b" ")
        pos = end + 1
        if len(fields) == 3 and fields[2].isdigit() and fields[1] != b"missing":
            size = int(fields[2])
            data = out[pos : pos + size]
            pos += size + 1  # content, then a newline
            yield data if fields[1] == b"blob" else None
        else:
            yield None  # "<name> missing" / "<name> ambiguous"


def _stderr(done: subprocess.CompletedProcess[bytes]) -> str:
    message = done.stderr.decode("utf-8", errors="replace").strip()
    return message or f"exit status {done.returncode}"


def _count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _worktree_line_count(root: Path, relative: str) -> int | None:
    """Lines of ``root/relative``; None when missing or outside ``root`` (a hostile patch)."""
    path = root / relative
    try:
        if path.is_symlink():
            return 1
        if not path.resolve().is_relative_to(root.resolve()):
            return None
        return _count_lines(path.read_bytes())
    except OSError:
        return None


def _highest_new_line(file: DiffFile) -> int:
    return max((h.new_end for h in file.hunks), default=0)
