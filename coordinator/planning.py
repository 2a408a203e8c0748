"""(diff, roster, settings) -> Plan: which reviewer sees which chunk, and what nobody sees.

Pure: guideline text is collected by the caller and passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from coordinator.agents import AgentSpec
from coordinator.diff.chunking import ChunkingResult, chunk_diff, estimate_tokens
from coordinator.diff.model import Chunk, Diff
from coordinator.findings import Unreviewed, UnreviewedReason
from coordinator.guidelines import guidelines_for
from coordinator.prompts import new_nonce, render_review_prompt

DEFAULT_MAX_FINDINGS = 10


@dataclass(frozen=True)
class Assignment:
    key: str  # "agent#index", unique in a plan
    agent: AgentSpec
    runtime: str
    model: str | None
    chunk: Chunk
    chunk_count: int
    prompt: str
    estimated_tokens: int  # the whole rendered prompt plus the agent prompt
    nonce: str = ""  # the data-fence tag inside ``prompt``; random, so not part of any cache key

    @property
    def title(self) -> str:
        part = f" {self.chunk.index + 1}/{self.chunk_count}" if self.chunk_count > 1 else ""
        return f"council {self.agent.name}{part}: {', '.join(self.chunk.paths)[:120]}"


@dataclass(frozen=True)
class Plan:
    diff: Diff
    agents: tuple[AgentSpec, ...]
    assignments: tuple[Assignment, ...]
    unreviewed: tuple[Unreviewed, ...]

    def assignments_for(self, agent: str) -> list[Assignment]:
        return [a for a in self.assignments if a.agent.name == agent]


def plan_review(
    diff: Diff,
    agents: Sequence[AgentSpec],
    *,
    chunk_tokens: int,
    runtime_for: Callable[[AgentSpec], str],
    model_for: Callable[[AgentSpec], str | None],
    guidelines: Mapping[str, str],
    nonce: Callable[[], str] = new_nonce,
) -> Plan:
    unreviewed: dict[tuple[str, str, str | None], Unreviewed] = {}
    covered: set[str] = set()
    assignments: list[Assignment] = []
    # Reviewers that cover the same files get the same chunks: chunk each file set once.
    chunked: dict[tuple[int, ...], ChunkingResult] = {}
    for agent in agents:
        picked = tuple(i for i, f in enumerate(diff.files) if agent.covers(f.path))
        files = [diff.files[i] for i in picked]
        covered.update(f.path for f in files)
        result = chunked.get(picked) or chunked.setdefault(picked, chunk_diff(files, chunk_tokens))
        for item in result.unreviewed:
            unreviewed.setdefault((item.path, item.reason, item.detail), item)
        count = len(result.chunks)
        for chunk in result.chunks:
            tag = nonce()
            prompt = render_review_prompt(
                agent,
                chunk,
                chunk_count=count,
                source=diff.source,
                guidelines=guidelines_for(chunk.paths, guidelines),
                nonce=tag,
                max_findings=agent.max_findings or DEFAULT_MAX_FINDINGS,
            )
            assignments.append(
                Assignment(
                    key=f"{agent.name}#{chunk.index + 1}",
                    agent=agent,
                    runtime=runtime_for(agent),
                    model=model_for(agent),
                    chunk=chunk,
                    chunk_count=count,
                    prompt=prompt,
                    estimated_tokens=estimate_tokens(prompt) + estimate_tokens(agent.prompt),
                    nonce=tag,
                )
            )
    for f in diff.files:
        if f.path not in covered:
            item = Unreviewed(
                path=f.path,
                reason=UnreviewedReason.EXCLUDED,
                detail="no selected reviewer covers this path (include/exclude globs)",
            )
            unreviewed.setdefault((item.path, item.reason, item.detail), item)
    return Plan(
        diff=diff,
        agents=tuple(agents),
        assignments=tuple(assignments),
        unreviewed=tuple(sorted(unreviewed.values(), key=lambda u: (u.path, u.reason))),
    )
