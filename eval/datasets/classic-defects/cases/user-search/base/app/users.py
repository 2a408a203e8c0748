"""Persistence for user accounts (sqlite3)."""

from __future__ import annotations

import sqlite3
from typing import Any

COLUMNS = ("id", "email", "display_name")


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(COLUMNS, row, strict=True))


class UserRepository:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, user_id: int) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT id, email, display_name FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        return None if row is None else _row(row)

    def deactivate(self, user_id: int) -> None:
        with self._conn:
            self._conn.execute("UPDATE users SET active = 0 WHERE id = ?", (user_id,))
