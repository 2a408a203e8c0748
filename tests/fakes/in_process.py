"""What every in-process runtime shares (tests' and benchmarks'): nothing to start or stop."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class InProcessRuntime:
    """The Runtime protocol's lifecycle for a runtime that lives in the process itself."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def default_model(self) -> str | None:
        return None
