"""Remembered reviewer answers, so a re-review skips assignments whose inputs did not change.

Key: a hash of everything that shapes an answer — the reviewer's definition, the model
and runtime, the rendered prompt (which holds the prompt templates, the exact chunk
text and the guidelines) with its random data-fence tag taken out. Only successful
answers are stored. SQLite in the user cache dir, size-capped and expiring; a store
that cannot be read is rebuilt, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from coordinator.events import Usage
from coordinator.findings import Finding
from coordinator.planning import Assignment

STORE_VERSION = 1
DEFAULT_MAX_ENTRIES = 20_000
DEFAULT_MAX_AGE_S = 30 * 24 * 3600
_FINDINGS = TypeAdapter(list[Finding])


@dataclass(frozen=True)
class StoredAnswer:
    findings: list[Finding]
    usage: Usage  # what the original session cost (not spent again)
    model: str | None


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
        "prompt": assignment.prompt.replace(assignment.nonce, "")
        if assignment.nonce
        else assignment.prompt,
    }
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


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
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, created REAL NOT NULL,"
            " findings TEXT NOT NULL, tokens_in INTEGER, tokens_out INTEGER, cost REAL, model TEXT)"
        )
        # Pruning on every put must not scan the table (the hot path of every session).
        db.execute("CREATE INDEX IF NOT EXISTS answers_created ON answers (created)")
        self._count = db.execute("SELECT count(*) FROM answers").fetchone()[0]
        return db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def get(self, assignment: Assignment) -> StoredAnswer | None:
        try:
            row = (
                self._connect()
                .execute(
                    "SELECT created, findings, tokens_in, tokens_out, cost, model FROM answers WHERE key = ?",
                    (assignment_key(assignment),),
                )
                .fetchone()
            )
        except sqlite3.DatabaseError:
            self._reset()
            return None
        if row is None or time.time() - row[0] > self.max_age_s:
            return None
        try:
            findings = _FINDINGS.validate_json(row[1])
        except ValidationError:
            return None
        return StoredAnswer(findings, Usage(row[2] or 0, row[3] or 0, row[4] or 0.0), row[5])

    def put(self, assignment: Assignment, answer: StoredAnswer) -> None:
        payload = _FINDINGS.dump_json(answer.findings).decode()
        key = assignment_key(assignment)
        try:
            db = self._connect()
            known = db.execute("SELECT 1 FROM answers WHERE key = ?", (key,)).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    time.time(),
                    payload,
                    answer.usage.tokens_in,
                    answer.usage.tokens_out,
                    answer.usage.cost_usd,
                    answer.model,
                ),
            )
            self._count += known is None
            self._prune(db)
        except sqlite3.DatabaseError:
            self._reset()

    def _prune(self, db: sqlite3.Connection) -> None:
        """Drop expired entries, then the oldest beyond the cap: index range scans only."""
        cutoff = time.time() - self.max_age_s
        self._count -= db.execute("DELETE FROM answers WHERE created < ?", (cutoff,)).rowcount
        excess = self._count - self.max_entries
        if excess > 0:
            self._count -= db.execute(
                "DELETE FROM answers WHERE key IN"
                " (SELECT key FROM answers ORDER BY created LIMIT ?)",
                (excess,),
            ).rowcount

    def _reset(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
