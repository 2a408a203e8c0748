"""What every benchmark's in-process runtime shares: nothing to start or stop, no model."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class InProcessRuntime:
    """The Runtime protocol's lifecycle for a runtime that lives in the benchmark itself."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def default_model(self) -> str | None:
        return None
