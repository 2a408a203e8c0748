"""Find the repository's own review rules (AGENTS.md, CLAUDE.md, CONTRIBUTING.md).

A rule file applies to the paths below the folder that holds it, as AGENTS.md
does. The text is repository data: prompts fence it, never obey it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

GUIDELINE_FILES = ("AGENTS.md", "CLAUDE.md", "CONTRIBUTING.md", ".github/CONTRIBUTING.md")
# Guidelines are context, not the review; a huge CONTRIBUTING.md must not crowd out the diff.
MAX_GUIDELINE_CHARS = 12_000


def collect_guidelines(repo: Path, paths: Iterable[str]) -> dict[str, str]:
    """Map each guideline file that applies to any of ``paths`` to its text."""
    folders: set[PurePosixPath] = {PurePosixPath(".")}
    for path in paths:
        folders.update(PurePosixPath(path).parents)
    found: dict[str, str] = {}
    for folder in sorted(folders, key=lambda p: (len(p.parts), str(p))):
        for name in GUIDELINE_FILES:
            rel = (folder / name).as_posix().removeprefix("./")
            candidate = repo / rel
            if candidate.is_file():
                try:
                    found[rel] = candidate.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
    return found


def guidelines_for(paths: Iterable[str], collected: Mapping[str, str]) -> str:
    """The guideline text that applies to ``paths``, outermost folder first, size-capped."""
    wanted: set[str] = set()
    for path in paths:
        parents = {p.as_posix() for p in PurePosixPath(path).parents}
        for rel in collected:
            folder = PurePosixPath(rel).parent.as_posix()
            if rel.startswith(".github/"):
                folder = "."
            if folder in parents:
                wanted.add(rel)
    parts: list[str] = []
    budget = MAX_GUIDELINE_CHARS
    for rel in sorted(wanted, key=lambda r: (r.count("/"), r)):
        text = collected[rel].strip()
        if len(text) > budget:
            text = text[:budget] + "\n[... truncated ...]"
        parts.append(f"--- {rel} ---\n{text}")
        budget -= len(text)
        if budget <= 0:
            break
    return "\n\n".join(parts)
