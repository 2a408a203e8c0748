"""Remembered reviewer answers, so a re-review only sends what changed.

Answers are kept per file: a session that reviewed a chunk of five files leaves
five entries, each holding the findings on its file. The key of one entry is a
hash of everything that shapes the answer for that file — the reviewer's
definition, the model and runtime, and the prompt that file would get alone (the
prompt templates, the file's exact diff text and the guidelines that apply to it)
with its random data-fence tag taken out. Per file rather than per chunk because
chunk boundaries move: when one file's diff grows, the files after it may pack
into other chunks, and a chunk-level key would miss them all. With per-file keys
a re-review sends each reviewer only the files whose entry is missing.

What a reviewer said about file A while it also saw file B is reused after B
changes. The reviewer still sees B's new diff, can read A from the repository,
and may report on A again; a change elsewhere that silently breaks A is what the
next full review (``--no-cache``) is for.

Only successful answers are stored. SQLite in the user cache dir, size-capped and
expiring; a store that cannot be read is rebuilt, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from coordinator.diff.model import DiffFile
from coordinator.findings import Finding
from coordinator.planning import Assignment, narrow

STORE_VERSION = 2
DEFAULT_MAX_ENTRIES = 100_000  # files, not sessions
DEFAULT_MAX_AGE_S = 30 * 24 * 3600


class _FileAnswer(BaseModel):
    """One file's share of one session's answer."""

    session: str  # which session it came from, so answers recombine in their order
    order: list[int]  # each finding's position in that session's answer
    findings: list[Finding]


@dataclass(frozen=True)
class Recalled:
    """What the store knows about an assignment's files."""

    findings: list[Finding]  # on the known files, in the order they were reported
    missing: tuple[DiffFile, ...]  # files (or file parts) nobody answered for yet
    model: str | None
    known: int = 0  # files answered for

    @property
    def complete(self) -> bool:
        return self.known > 0 and not self.missing


def unanswered(assignments: Sequence[Assignment], store: ResultStore | None) -> list[Assignment]:
    """The assignments that need a session: all of them without a store, else those
    with a file the store cannot answer for (they decide which runtimes to start)."""
    if store is None:
        return list(assignments)
    return [a for a in assignments if not store.recall(a).complete]


def default_store_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "council" / "results.sqlite3"


def assignment_key(assignment: Assignment) -> str:
    agent = assignment.agent
    material = {
        "v": STORE_VERSION,
        "agent": {
            "name": agent.name,
            "prompt": agent.prompt,
            "model": agent.model,
            "runtime": agent.runtime,
            "temperature": agent.temperature,
            "permission": agent.permission,
            "options": agent.runtime_options,
            "max_findings": agent.max_findings,
        },
        "runtime": assignment.runtime,
        "model": assignment.model,
        "instructions": assignment.instructions,
        "prompt": assignment.prompt.replace(assignment.nonce, "")
        if assignment.nonce
        else assignment.prompt,
    }
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def file_key(assignment: Assignment, file: DiffFile) -> str:
    """The key of ``file``'s entry: as if the reviewer had been sent that file alone.

    Alone means no "part i of n" label and no other file's name or guidelines, so
    the key does not depend on how the plan happened to pack the chunk.
    """
    alone = narrow(replace(assignment, chunk_count=1), (file,), key="", nonce="")
    return assignment_key(alone)


class ResultStore:
    def __init__(
        self,
        path: Path,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        self.path = path
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self._db: sqlite3.Connection | None = None
        self._count = 0  # rows in the table, as this connection has seen them
        # Rendering a file's prompt for its key is the costly part; a run asks twice
        # (which runtimes to start, then each session).
        # Keyed by identity; holding the assignment keeps its id from being reused.
        self._keys: dict[int, tuple[Assignment, list[str]]] = {}

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError:
                # Corrupt or foreign file: the store is only a cache, so start afresh.
                self.path.unlink(missing_ok=True)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        # The planner may look answers up on a worker thread, sessions on the loop's;
        # never at the same time.
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
        db.execute("DROP TABLE IF EXISTS answers")  # version 1: one entry per chunk
        db.execute(
            "CREATE TABLE IF NOT EXISTS file_answers (key TEXT PRIMARY KEY,"
            " created REAL NOT NULL, answer TEXT NOT NULL, model TEXT)"
        )
        # Pruning on every put must not scan the table (the hot path of every session).
        db.execute("CREATE INDEX IF NOT EXISTS file_answers_created ON file_answers (created)")
        self._count = db.execute("SELECT count(*) FROM file_answers").fetchone()[0]
        return db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _keys_of(self, assignment: Assignment) -> list[str]:
        known = self._keys.get(id(assignment))
        if known is not None and known[0] is assignment:
            return known[1]
        keys = [file_key(assignment, file) for file in assignment.chunk.files]
        self._keys[id(assignment)] = (assignment, keys)
        return keys

    def recall(self, assignment: Assignment) -> Recalled:
        """The remembered findings on ``assignment``'s files, and the files still to review."""
        keys = self._keys_of(assignment)
        try:
            rows = self._rows(keys)
        except sqlite3.DatabaseError:
            self._reset()
            rows = {}
        cutoff = time.time() - self.max_age_s
        known: list[_FileAnswer] = []
        missing: list[DiffFile] = []
        model = None
        for key, file in zip(keys, assignment.chunk.files, strict=True):
            row = rows.get(key)
            answer = _decode(row[1]) if row is not None and row[0] >= cutoff else None
            if answer is None or row is None:
                missing.append(file)
                continue
            known.append(answer)
            model = model or row[2]
        return Recalled(_in_reported_order(known), tuple(missing), model, len(known))

    def _rows(self, keys: Sequence[str]) -> dict[str, tuple[float, str, str | None]]:
        found = self._select("key, created, answer, model", keys)
        return {k: (c, a, m) for k, c, a, m in found}

    def _select(self, columns: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        query = f"SELECT {columns} FROM file_answers WHERE key IN ({marks})"
        return self._connect().execute(query, list(keys)).fetchall()

    def remember(
        self, assignment: Assignment, findings: Sequence[Finding], model: str | None
    ) -> None:
        """Keep a successful answer, split by file."""
        files = assignment.chunk.files
        if not files:
            return
        by_path = {f.path: i for i, f in reversed(list(enumerate(files)))}
        # A finding on a path outside the chunk stays with the first file, so a full
        # recall gives back the whole answer.
        shares: list[list[int]] = [[] for _ in files]
        for n, finding in enumerate(findings):
            shares[by_path.get(finding.path, 0)].append(n)
        session = secrets.token_hex(8)
        rows = [
            (
                key,
                time.time(),
                _FileAnswer(
                    session=session,
                    order=share,
                    findings=[findings[n] for n in share],
                ).model_dump_json(),
                model,
            )
            for key, share in zip(self._keys_of(assignment), shares, strict=True)
        ]
        try:
            db = self._connect()
            keys = {r[0] for r in rows}
            known = {k for (k,) in self._select("key", list(keys))}
            db.executemany("INSERT OR REPLACE INTO file_answers VALUES (?, ?, ?, ?)", rows)
            self._count += len(keys - known)
            self._prune(db)
        except sqlite3.DatabaseError:
            self._reset()

    def _prune(self, db: sqlite3.Connection) -> None:
        """Drop expired entries, then the oldest beyond the cap: index range scans only."""
        cutoff = time.time() - self.max_age_s
        self._count -= db.execute("DELETE FROM file_answers WHERE created < ?", (cutoff,)).rowcount
        excess = self._count - self.max_entries
        if excess > 0:
            self._count -= db.execute(
                "DELETE FROM file_answers WHERE key IN"
                " (SELECT key FROM file_answers ORDER BY created LIMIT ?)",
                (excess,),
            ).rowcount

    def _reset(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def _decode(text: str) -> _FileAnswer | None:
    try:
        return _FileAnswer.model_validate_json(text)
    except ValidationError:
        return None


def _in_reported_order(answers: Sequence[_FileAnswer]) -> list[Finding]:
    """Findings of several sessions: session by session, each in its own order."""
    sessions: dict[str, list[tuple[int, Finding]]] = {}
    for answer in answers:
        sessions.setdefault(answer.session, []).extend(
            zip(answer.order, answer.findings, strict=True)
        )
    return [f for items in sessions.values() for _, f in sorted(items, key=lambda t: t[0])]
