"""Listing endpoints of the catalogue service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def clamp_page_size(requested: str | None) -> int:
    if requested is None:
        return DEFAULT_PAGE_SIZE
    return max(1, min(int(requested), MAX_PAGE_SIZE))


def list_products(store: Any, query: dict[str, str]) -> dict[str, Any]:
    products = store.all_products()
    return {"items": [p.to_dict() for p in products], "total": len(products)}
