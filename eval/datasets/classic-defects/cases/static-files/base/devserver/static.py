"""Serves the files under the static root for the development server."""

from __future__ import annotations

import mimetypes
import os


class StaticFiles:
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def content_type(self, path: str) -> str:
        guessed, _ = mimetypes.guess_type(path)
        return guessed or "application/octet-stream"
