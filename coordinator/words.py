"""Words of a finding's title and body, as the merge compares them. Pure.

A text becomes the set of stems of its distinct words, minus stopwords and
one-character words; two texts say the same thing when their sets overlap enough.
"""

from __future__ import annotations

import re
from functools import lru_cache


def collapse(text: str) -> str:
    return " ".join(text.split())  # runs of whitespace to one space, none at the ends


_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    _WORD.findall(
        """a an and are as at be been being but by can could do does for from has have here
    if in into is issue it its likely may maybe might more not of on or possible possibly
    potential potentially problem should than that the then there
    these this those to use used uses using very via was were when where which while
    will with would"""
    )
)
_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("s", ""))


def _stem(word: str) -> str:
    # Just enough stemming that "awaited"/"await" and "closes"/"closing" meet.
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


@lru_cache(maxsize=1 << 12)  # titles repeat across reviewers and chunks
def title_words(title: str) -> tuple[str, frozenset[str]]:
    """A title as compared: lowercased with whitespace collapsed, and its tokens."""
    return collapse(title.lower()), frozenset(word_stems(title))


def word_stems(text: str) -> set[str]:
    """Stems of the distinct words (runs of [a-z0-9] in the lowercased text) that are
    longer than one character and not stopwords.

    All in C but the first sight of a word: every byte but [a-z0-9] becomes a space
    (non-ASCII characters, encoded as "?", are separators as in ``_WORD``), and each
    word is looked up in `_STEMS`, which maps one-character words and stopwords to ""
    (dropped at the end) and every other word to its stem.
    """
    ascii_text = text.lower().encode("ascii", "replace").translate(_WORD_BYTES)
    stems = set(map(_STEMS.__getitem__, ascii_text.decode("ascii").split()))
    stems.discard("")  # no stem is empty: a stem keeps at least two characters
    return stems


class _Stems(dict[str, str]):
    """Word -> stem, or "" for a dropped word; filled as words are first seen (a race
    between threads only computes a stem twice)."""

    def __missing__(self, word: str) -> str:
        if len(self) >= 1 << 16:  # reviewers' vocabulary is small, identifiers are not
            self.clear()
        stem = self[word] = "" if word in _DROPPED_WORDS else _stem(word)
        return stem


_STEMS = _Stems()
_WORD_BYTES = bytes(b if 97 <= b <= 122 or 48 <= b <= 57 else 32 for b in range(256))
_DROPPED_WORDS = _STOPWORDS | frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def overlaps(a: frozenset[str], b: frozenset[str], threshold: float, sure: float) -> bool:
    """Token Jaccard >= threshold, on at least two shared words unless it is >= ``sure``.

    One shared word is chance in short titles ("Unused import" / "Unused variable").
    """
    shared = len(a & b)
    union = len(a) + len(b) - shared  # len(a | b) without building it
    if not union:
        return False
    jaccard = shared / union
    return jaccard >= sure or (shared >= 2 and jaccard >= threshold)
