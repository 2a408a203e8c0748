"""CSV export of monthly reports."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import IO, Any

FIELDS = ("date", "account", "description", "amount")


def write_csv(rows: Iterable[Mapping[str, Any]], handle: IO[str]) -> int:
    writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def export(rows: Iterable[Mapping[str, Any]], path: str) -> int:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        return write_csv(rows, handle)
