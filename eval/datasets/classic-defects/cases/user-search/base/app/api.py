"""HTTP handlers for /users."""

from __future__ import annotations

from typing import Any

from app.users import UserRepository


def get_user(repo: UserRepository, user_id: str) -> tuple[int, dict[str, Any]]:
    if not user_id.isdigit():
        return 400, {"error": "user id must be a number"}
    user = repo.get(int(user_id))
    if user is None:
        return 404, {"error": "no such user"}
    return 200, user
