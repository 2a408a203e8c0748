"""Fetches exchange rates from the upstream provider."""

from __future__ import annotations

import time
from typing import Any

import requests


def fetch_rates(session: requests.Session, base: str) -> dict[str, Any]:
    for attempt in range(3):
        try:
            response = session.get(
                "https://rates.example.com/v1/latest", params={"base": base}, timeout=5
            )
            response.raise_for_status()
            return response.json()["rates"]
        except requests.RequestException:
            if attempt == 2:
                raise
            time.sleep(2**attempt)
    raise AssertionError("unreachable")
