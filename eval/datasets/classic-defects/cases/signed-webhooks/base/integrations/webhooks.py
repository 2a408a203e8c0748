"""Outgoing webhooks: deliver events to the URLs customers register."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

log = logging.getLogger(__name__)
TIMEOUT_S = 10


class WebhookClient:
    def __init__(self, session: requests.Session | None = None) -> None:
        self._session = session or requests.Session()

    def deliver(self, url: str, event: dict[str, Any]) -> bool:
        body = json.dumps(event, separators=(",", ":")).encode()
        response = self._session.post(
            url, data=body, headers={"content-type": "application/json"}, timeout=TIMEOUT_S
        )
        if response.status_code >= 300:
            log.warning("webhook %s answered %s", url, response.status_code)
            return False
        return True
