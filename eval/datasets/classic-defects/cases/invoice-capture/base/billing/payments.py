"""Invoice payments through the card gateway."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """The gateway declined or could not process a request."""


@dataclass
class Invoice:
    id: str
    amount_cents: int
    payment_intent: str
    status: str = "open"


class Payments:
    def __init__(self, gateway: Any, store: Any) -> None:
        self._gateway = gateway
        self._store = store

    def authorise(self, invoice: Invoice) -> None:
        self._gateway.authorise(invoice.payment_intent, invoice.amount_cents)
        invoice.status = "authorised"
        self._store.save(invoice)
