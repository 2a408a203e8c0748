"""Precision, recall and F1 from match counts. Pure.

- precision = TP / (TP + FP): of what was reported, how much was a golden issue;
  undefined (None) when nothing was reported.
- recall = TP / (TP + FN): of the golden issues, how many were found; undefined
  when the case has none (a "nothing to find" case only measures precision).
- F1 = 2·TP / (2·TP + FP + FN): the harmonic mean of the two when both are defined,
  and still meaningful when one is not (a clean case with a false positive scores
  0, a case where nothing was reported scores 0); undefined only when there was
  nothing to find and nothing was reported.

Totals are micro-averaged: the counts of every case are added, then the rates are
computed once, so a case with many golden issues weighs more than one with few.
"""

from __future__ import annotations

from dataclasses import dataclass

RATE_DIGITS = 4


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def reported(self) -> int:
        return self.tp + self.fp

    @property
    def golden(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, RATE_DIGITS) if denominator else None
