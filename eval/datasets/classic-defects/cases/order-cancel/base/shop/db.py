"""Order storage. Every call goes to the database: all methods are coroutines."""

from __future__ import annotations

from typing import Any


class OrderStore:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def insert_order(self, customer_id: str, lines: list[dict[str, Any]]) -> str:
        async with self._pool.acquire() as conn:
            return await conn.fetchval(
                "INSERT INTO orders (customer_id, lines, status) VALUES ($1, $2, 'placed') "
                "RETURNING id",
                customer_id,
                lines,
            )

    async def get_order(self, order_id: str) -> dict[str, Any] | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)
            return dict(row) if row is not None else None

    async def set_status(self, order_id: str, status: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("UPDATE orders SET status = $2 WHERE id = $1", order_id, status)

    async def refund(self, order_id: str, amount_cents: int) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO refunds (order_id, amount_cents) VALUES ($1, $2)",
                order_id,
                amount_cents,
            )
