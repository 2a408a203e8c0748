"""Order workflow: validation, persistence and notifications."""

from __future__ import annotations

import logging
from typing import Any

from shop.db import OrderStore

log = logging.getLogger(__name__)


class OrderService:
    def __init__(self, store: OrderStore, mailer: Any) -> None:
        self._store = store
        self._mailer = mailer

    async def place(self, customer_id: str, lines: list[dict[str, Any]]) -> str:
        if not lines:
            raise ValueError("an order needs at least one line")
        order_id = await self._store.insert_order(customer_id, lines)
        await self._mailer.send_confirmation(customer_id, order_id)
        log.info("order %s placed for %s", order_id, customer_id)
        return order_id
