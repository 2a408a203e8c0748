"""Findings a person dismissed, remembered in ``.council/dismissed.toml`` of the repository.

The file is meant to be reviewed and committed, so it is plain TOML, one
``[[dismissed]]`` table per finding, sorted so that two people dismissing
different findings produce mergeable diffs::

    [[dismissed]]
    fingerprint = "3f2a9c0d1e4b5a67"
    title = "SQL built with string formatting"
    path = "app/db.py"
    reason = "the value is an enum, never user input"
    date = 2024-05-01

A finding is matched by its fingerprint (``ReviewFinding.id``) only: the id already
ignores line numbers, and a looser match (say, on the title) could hide a different
problem silently. Dismissed findings leave the ranked list but stay in the review as
rejected, with the reason, so nothing disappears (DESIGN.md's conservation rule).

Reading and writing are small synchronous file operations; async callers run them
in a thread.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coordinator.errors import ConfigError
from coordinator.findings import ReviewFinding

DISMISSED_FILE = Path(".council") / "dismissed.toml"
_HEADER = (
    "# Findings dismissed in council's review browser (council tui).\n"
    "# They are left out of later reviews (council review, council tui, the git hook)\n"
    "# unless --show-dismissed is given. Delete an entry to see its finding again.\n"
)


@dataclass(frozen=True)
class Dismissal:
    fingerprint: str
    title: str = ""
    path: str = ""
    reason: str = ""
    date: dt.date | None = None


@dataclass(frozen=True)
class Dismissals:
    """The dismissed findings of one repository, by fingerprint."""

    entries: Mapping[str, Dismissal] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, fingerprint: object) -> bool:
        return fingerprint in self.entries

    def get(self, fingerprint: str) -> Dismissal | None:
        return self.entries.get(fingerprint)

    def with_entry(self, dismissal: Dismissal) -> Dismissals:
        return Dismissals({**self.entries, dismissal.fingerprint: dismissal})

    def without(self, fingerprint: str) -> Dismissals:
        return Dismissals({k: v for k, v in self.entries.items() if k != fingerprint})


def dismissals_path(repo: Path) -> Path:
    return repo / DISMISSED_FILE


def load_dismissals(repo: Path, read: Callable[[str], str | None] | None = None) -> Dismissals:
    """The repository's dismissals; none when the file does not exist.

    ``read`` reads a repository file by relative path from somewhere trusted (for an
    untrusted diff, the base commit: a pull request must not hide findings by adding
    dismissals). A file that exists but cannot be read is a ConfigError: people commit
    it, and silently ignoring it would bring dismissed findings back.
    """
    path = dismissals_path(repo)
    if read is not None:
        text = read(DISMISSED_FILE.as_posix())
        return Dismissals() if text is None else parse_dismissals(text, str(DISMISSED_FILE))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Dismissals()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return parse_dismissals(text, str(path))


def parse_dismissals(text: str, origin: str) -> Dismissals:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: invalid TOML: {exc}") from exc
    return Dismissals({d.fingerprint: d for d in _parse(data, origin)})


def _parse(data: Mapping[str, object], path: str) -> list[Dismissal]:
    items = data.get("dismissed", [])
    if not isinstance(items, list):
        raise ConfigError(f"{path}: 'dismissed' must be an array of tables ([[dismissed]])")
    out: list[Dismissal] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: entry {n} must be a table")
        fingerprint = item.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint.strip():
            raise ConfigError(f"{path}: entry {n} has no fingerprint")
        date = item.get("date")
        if isinstance(date, dt.datetime):
            date = date.date()
        if date is not None and not isinstance(date, dt.date):
            raise ConfigError(f"{path}: entry {n}: date must be a TOML date, e.g. 2024-05-01")
        texts = {k: item.get(k, "") for k in ("title", "path", "reason")}
        for key, value in texts.items():
            if not isinstance(value, str):
                raise ConfigError(f"{path}: entry {n}: {key} must be a string")
        title, file_path, reason = (str(texts[k]) for k in ("title", "path", "reason"))
        out.append(Dismissal(fingerprint.strip(), title, file_path, reason, date))
    return out


def render_dismissals(dismissals: Dismissals) -> str:
    """The file's text: a header comment, then entries sorted by path, title, fingerprint."""
    parts = [_HEADER]
    ordered = sorted(dismissals.entries.values(), key=lambda d: (d.path, d.title, d.fingerprint))
    for d in ordered:
        parts.append("\n[[dismissed]]\n")
        parts.append(f"fingerprint = {_toml_string(d.fingerprint)}\n")
        parts.append(f"title = {_toml_string(d.title)}\n")
        parts.append(f"path = {_toml_string(d.path)}\n")
        parts.append(f"reason = {_toml_string(d.reason)}\n")
        if d.date is not None:
            parts.append(f"date = {d.date.isoformat()}\n")
    return "".join(parts)


def save_dismissals(repo: Path, dismissals: Dismissals) -> Path:
    """Write the file atomically (a crash never leaves half a file); returns its path."""
    path = dismissals_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dismissed.", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(render_dismissals(dismissals))
        os.replace(tmp, path)
    except BaseException:  # whatever stopped the write (even Ctrl-C): no stray temp file
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def dismiss(
    repo: Path, finding: ReviewFinding, reason: str = "", *, today: dt.date | None = None
) -> Dismissals:
    """Add ``finding`` to the file (re-reading it first, so others' entries survive)."""
    entry = Dismissal(
        fingerprint=finding.id,
        title=finding.title,
        path=finding.path,
        reason=" ".join(reason.split()),
        date=today or dt.date.today(),
    )
    updated = load_dismissals(repo).with_entry(entry)
    save_dismissals(repo, updated)
    return updated


def restore(repo: Path, fingerprint: str) -> Dismissals:
    """Remove one entry from the file; the finding shows again in later reviews."""
    updated = load_dismissals(repo).without(fingerprint)
    save_dismissals(repo, updated)
    return updated


def apply_dismissals(
    findings: Iterable[ReviewFinding], dismissals: Dismissals
) -> tuple[list[ReviewFinding], list[tuple[ReviewFinding, Dismissal]]]:
    """Split findings into those kept and those dismissed (with their entries), in order."""
    kept: list[ReviewFinding] = []
    dismissed: list[tuple[ReviewFinding, Dismissal]] = []
    for f in findings:
        entry = dismissals.get(f.id)
        if entry is None:
            kept.append(f)
        else:
            dismissed.append((f, entry))
    return kept, dismissed


def dismissal_reason(entry: Dismissal) -> str:
    """The reason a dismissed finding carries in the review's ``rejected`` list."""
    return f"dismissed: {entry.reason}" if entry.reason else "dismissed"


def dismissal_reasons(findings: Iterable[ReviewFinding], dismissals: Dismissals) -> dict[str, str]:
    """Finding id -> rejection reason, for the findings ``dismissals`` hides."""
    return {f.id: dismissal_reason(entry) for f, entry in apply_dismissals(findings, dismissals)[1]}


def _toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
