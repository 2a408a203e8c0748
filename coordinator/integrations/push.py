"""What a push sends: the ranges of commits the pre-push hook should review.

Reads git's pre-push protocol (``<local ref> <local oid> <remote ref> <remote
oid>`` per line on stdin) or pre-commit's environment (``PRE_COMMIT_FROM_REF`` /
``PRE_COMMIT_TO_REF``) and turns each pushed ref into a range, the way
pre-commit does:

- a deletion (all-zero local oid) has nothing to review;
- an update whose old remote commit is known here reviews ``remote...local``
  (the merge base, so a force push reviews only what is new); a force push of an
  unrelated history (no merge base) reviews the tree change ``remote..local``;
- a new ref (or an old commit not fetched here) reviews only the commits that
  no remote-tracking branch of that remote has: from the parent of the oldest
  such commit. When that commit is a root commit, the whole tree is new to the
  remote and is reviewed against the empty tree.

Object ids are compared by being all zeroes, so SHA-256 repositories (64 hex
digits) work too. Git calls block: the hook has nothing else to do meanwhile.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coordinator.diff.sources import DiffRequest
from coordinator.errors import CouncilError

# The same fixed output format council's own diff reader uses, for the root-commit patch.
_ROOT_DIFF = (
    "-c", "core.quotePath=false", "-c", "diff.noprefix=false", "-c", "color.ui=never",
    "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M", "-C",
    "--src-prefix=a/", "--dst-prefix=b/", "--no-relative", "--submodule=short", "--unified=3",
)  # fmt: skip


class PushError(CouncilError):
    """The push cannot be read (malformed hook input, git failing)."""


@dataclass(frozen=True)
class PushedRef:
    local_ref: str
    local_oid: str
    remote_ref: str
    remote_oid: str


@dataclass(frozen=True)
class PushRange:
    """Commits to review: ``base...head``, or all of ``head`` when ``base`` is None."""

    remote_ref: str
    base: str | None
    head: str
    related: bool = True  # False: no merge base, so diff the two trees (``base..head``)

    @property
    def label(self) -> str:
        name = self.remote_ref.removeprefix("refs/heads/")
        return f"{name} ({self.base[:10] if self.base else 'root'}..{self.head[:10]})"

    def diff_request(self, repo: Path) -> tuple[DiffRequest, str | None]:
        """The request for council's diff reader, plus a patch text for the root case."""
        if self.base is not None:
            dots = "..." if self.related else ".."
            return DiffRequest(range=f"{self.base}{dots}{self.head}"), None
        empty_tree = _git(repo, "hash-object", "-t", "tree", "--stdin", what="git hash-object")
        patch = _git(repo, *_ROOT_DIFF, empty_tree.strip(), self.head, what="git diff")
        return DiffRequest(patch="-"), patch


def is_zero(oid: str) -> bool:
    return bool(oid) and set(oid) == {"0"}


def parse_push_lines(text: str) -> list[PushedRef]:
    refs: list[PushedRef] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        # rsplit: a local ref given as an expression may contain spaces; oids never do.
        parts = line.rsplit(maxsplit=3)
        if len(parts) != 4:
            raise PushError(
                f"pre-push input line {number} is not '<ref> <oid> <ref> <oid>': {line!r}"
            )
        refs.append(PushedRef(*parts))
    return refs


def _git(repo: Path, *args: str, what: str) -> str:
    done = _run(repo, *args)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", errors="replace").strip()
        raise PushError(f"{what} failed: {message or f'exit status {done.returncode}'}")
    return done.stdout.decode("utf-8", errors="replace")


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "--no-pager", "-C", str(repo), *args],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        raise PushError("git is not installed or not on PATH") from exc


def _commit(repo: Path, oid: str) -> str | None:
    done = _run(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{oid}^{{commit}}")
    return done.stdout.decode().strip() if done.returncode == 0 else None


def _remote_filter(repo: Path, remote: str | None) -> str:
    # Pushing to a URL (not a named remote): any remote-tracking branch counts as "on a remote",
    # rather than reviewing the whole history again.
    names = _git(repo, "remote", what="git remote").split()
    return f"--remotes={remote}" if remote in names else "--remotes"


def _range_for(repo: Path, ref: PushedRef, remotes: str) -> tuple[PushRange | None, str]:
    if is_zero(ref.local_oid):
        return None, f"{ref.remote_ref}: deleted, nothing to review"
    head = _commit(repo, ref.local_oid)
    if head is None:
        return None, f"{ref.remote_ref}: {ref.local_oid[:10]} is not a commit, nothing to review"
    if not is_zero(ref.remote_oid):
        old = _commit(repo, ref.remote_oid)
        if old == head:
            return None, f"{ref.remote_ref}: already up to date"
        if old is not None:
            related = _run(repo, "merge-base", old, head).returncode == 0
            return PushRange(ref.remote_ref, old, head, related), ""
    new = _git(
        repo, "rev-list", "--topo-order", "--reverse", head, "--not", remotes, what="git rev-list"
    ).split()
    if not new:
        return None, f"{ref.remote_ref}: every commit is already on the remote"
    parents = _git(repo, "rev-list", "--parents", "-n", "1", new[0], what="git rev-list").split()[
        1:
    ]
    return PushRange(ref.remote_ref, parents[0] if parents else None, head), ""


def ranges_to_review(
    repo: Path, remote: str | None, refs: Sequence[PushedRef]
) -> tuple[list[PushRange], list[str]]:
    """The distinct ranges to review, and a note for every ref that needs none."""
    remotes = _remote_filter(repo, remote)
    ranges: list[PushRange] = []
    notes: list[str] = []
    seen: set[tuple[str | None, str]] = set()
    for ref in refs:
        found, note = _range_for(repo, ref, remotes)
        if found is None:
            notes.append(note)
        elif (found.base, found.head) not in seen:
            seen.add((found.base, found.head))
            ranges.append(found)
    return ranges, notes


def pre_commit_range(repo: Path, env: Mapping[str, str]) -> PushRange | None:
    """The range pre-commit hands over at its pre-push stage, or None outside pre-commit.

    pre-commit leaves the refs unset when the push starts at a root commit ("all
    files"); then everything up to the given ref, or HEAD, is new.
    """
    if env.get("PRE_COMMIT") != "1" and "PRE_COMMIT_TO_REF" not in env:
        return None
    to_ref = env.get("PRE_COMMIT_TO_REF") or env.get("PRE_COMMIT_SOURCE") or "HEAD"
    from_ref = env.get("PRE_COMMIT_FROM_REF") or env.get("PRE_COMMIT_ORIGIN")
    head = _commit(repo, to_ref)
    if head is None:
        raise PushError(f"pre-commit passed PRE_COMMIT_TO_REF={to_ref!r}, which is not a commit")
    base = _commit(repo, from_ref) if from_ref else None
    if from_ref and base is None:
        raise PushError(
            f"pre-commit passed PRE_COMMIT_FROM_REF={from_ref!r}, which is not a commit"
        )
    remote_ref = env.get("PRE_COMMIT_REMOTE_BRANCH") or "HEAD"
    return PushRange(remote_ref, base, head)
