"""Find the repository's own review rules (AGENTS.md, CLAUDE.md, CONTRIBUTING.md).

A rule file applies to the paths below the folder that holds it, as AGENTS.md
does. The text is repository data: prompts fence it, never obey it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath

GUIDELINE_FILES = (
    "AGENTS.md",
    "CLAUDE.md",
    "CONTRIBUTING.md",
    ".github/CONTRIBUTING.md",
    ".council/guidelines.md",
)
# Folders whose guideline files speak for the folder above them.
_ROOTED_IN_PARENT = (".github", ".council")
# Guidelines are context, not the review; a huge CONTRIBUTING.md must not crowd out the diff.
MAX_GUIDELINE_CHARS = 12_000


def _read_worktree(repo: Path) -> Callable[[str], str | None]:
    def read(rel: str) -> str | None:
        candidate = repo / rel
        if not candidate.is_file():
            return None
        try:
            return candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    return read


def collect_guidelines(
    repo: Path, paths: Iterable[str], read: Callable[[str], str | None] | None = None
) -> dict[str, str]:
    """Map each guideline file that applies to any of ``paths`` to its text.

    ``read`` fetches a repository-relative file (default: the working tree); an
    untrusted review passes one that reads the base commit instead.
    """
    read = read or _read_worktree(repo)
    folders: set[PurePosixPath] = {PurePosixPath(".")}
    for path in paths:
        folders.update(PurePosixPath(path).parents)
    found: dict[str, str] = {}
    for folder in sorted(folders, key=lambda p: (len(p.parts), str(p))):
        for name in GUIDELINE_FILES:
            rel = (folder / name).as_posix().removeprefix("./")
            text = read(rel)
            if text is not None:
                found[rel] = text
    return found


def _scope(rel: str) -> str:
    """The folder a guideline file speaks for ("." for the repository)."""
    parent = PurePosixPath(rel).parent
    if parent.name in _ROOTED_IN_PARENT:
        parent = parent.parent
    return parent.as_posix()


def guidelines_for(paths: Iterable[str], collected: Mapping[str, str]) -> str:
    """The guideline text that applies to ``paths``, nearest folder first, size-capped."""
    wanted: set[str] = set()
    for path in paths:
        parents = {p.as_posix() for p in PurePosixPath(path).parents}
        wanted.update(rel for rel in collected if _scope(rel) in parents)
    parts: list[str] = []
    budget = MAX_GUIDELINE_CHARS
    # Nearest first: a subfolder's rules refine (and may override) the repository's.
    for rel in sorted(wanted, key=lambda r: (-len(PurePosixPath(_scope(r)).parts), r)):
        text = collected[rel].strip()
        if len(text) > budget:
            text = text[:budget] + "\n[... truncated ...]"
        parts.append(f"--- {rel} ---\n{text}")
        budget -= len(text)
        if budget <= 0:
            break
    return "\n\n".join(parts)
