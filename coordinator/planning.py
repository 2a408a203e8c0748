"""(diff, roster, settings) -> Plan: which reviewer sees which chunk, and what nobody sees.

Pure: guideline text is collected by the caller and passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from coordinator.agents import AgentSpec
from coordinator.diff.chunking import ChunkingResult, chunk_diff, estimate_tokens
from coordinator.diff.model import Chunk, Diff, DiffFile
from coordinator.diff.render import render_chunk
from coordinator.findings import Unreviewed, UnreviewedReason
from coordinator.guidelines import guidelines_for
from coordinator.prompts import (
    new_nonce,
    render_change_overview,
    render_review_instructions,
    render_review_prompt,
)

DEFAULT_MAX_FINDINGS = 10


@dataclass(frozen=True)
class PromptInputs:
    """What a plan renders every prompt from, besides the agent and the chunk."""

    source: str = ""
    guidelines: Mapping[str, str] = field(default_factory=dict)  # rule file -> text
    overview: str = ""  # the change's files, for reviewers that see a part of it
    files: int = 0  # how many files the change touches


@dataclass(frozen=True)
class Assignment:
    key: str  # "agent#index", unique in a plan
    agent: AgentSpec
    runtime: str
    model: str | None
    chunk: Chunk
    chunk_count: int
    prompt: str  # the message for this chunk
    estimated_tokens: int  # the message plus the agent prompt and the instructions
    instructions: str = ""  # system text after the agent's prompt, the same for all its chunks
    # The change's files, after the instructions, when this reviewer sees a part of it.
    # The same in every session of a run (cacheable) and no part of any store key.
    overview: str = ""
    nonce: str = ""  # the data-fence tag inside ``prompt``; random, so not part of any cache key
    inputs: PromptInputs = field(default_factory=PromptInputs, compare=False)

    @property
    def session_instructions(self) -> str:
        """What a session sends after the agent's prompt: instructions, then overview."""
        return "\n\n".join(text for text in (self.instructions, self.overview) if text)

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
    group_tokens: int | None = None,
    runtime_for: Callable[[AgentSpec], str],
    model_for: Callable[[AgentSpec], str | None],
    guidelines: Mapping[str, str],
    nonce: Callable[[], str] = new_nonce,
) -> Plan:
    changed = tuple(f.path for f in diff.files)
    # One fence tag for the run, so the overview is the same text in every session.
    overview = render_change_overview(changed, nonce()) if len(changed) > 1 else ""
    inputs = PromptInputs(diff.source, guidelines, overview, len(changed))
    unreviewed: dict[tuple[str, str, str | None], Unreviewed] = {}
    covered: set[str] = set()
    assignments: list[Assignment] = []
    # Reviewers that cover the same files get the same chunks: chunk each file set once.
    chunked: dict[tuple[int, ...], ChunkingResult] = {}
    for agent in agents:
        picked = tuple(i for i, f in enumerate(diff.files) if agent.covers(f.path))
        files = [diff.files[i] for i in picked]
        covered.update(f.path for f in files)
        result = chunked.get(picked) or chunked.setdefault(
            picked, chunk_diff(files, chunk_tokens, group_tokens)
        )
        for item in result.unreviewed:
            unreviewed.setdefault((item.path, item.reason, item.detail), item)
        count = len(result.chunks)
        for chunk in result.chunks:
            assignments.append(
                _assignment(
                    f"{agent.name}#{chunk.index + 1}",
                    agent,
                    runtime_for(agent),
                    model_for(agent),
                    chunk,
                    count,
                    inputs,
                    nonce(),
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


def narrow(
    assignment: Assignment, files: Sequence[DiffFile], *, key: str, nonce: str
) -> Assignment:
    """The same reviewer and chunk slot, over only ``files`` (a subset of the chunk's)."""
    chunk = replace(assignment.chunk, files=tuple(files), paths=())
    chunk = replace(chunk, estimated_tokens=estimate_tokens(render_chunk(chunk)))
    return _assignment(
        key,
        assignment.agent,
        assignment.runtime,
        assignment.model,
        chunk,
        assignment.chunk_count,
        assignment.inputs,
        nonce,
    )


def _assignment(
    key: str,
    agent: AgentSpec,
    runtime: str,
    model: str | None,
    chunk: Chunk,
    chunk_count: int,
    inputs: PromptInputs,
    nonce: str,
) -> Assignment:
    prompt = render_review_prompt(
        agent,
        chunk,
        chunk_count=chunk_count,
        source=inputs.source,
        guidelines=guidelines_for(chunk.paths, inputs.guidelines),
        nonce=nonce,
    )
    instructions = render_review_instructions(agent.max_findings or DEFAULT_MAX_FINDINGS)
    # Any reviewer that does not see every file of the change, whether the diff was
    # split or its globs picked some files, is told the rest.
    overview = inputs.overview if len(chunk.files) < inputs.files else ""
    return Assignment(
        key=key,
        agent=agent,
        runtime=runtime,
        model=model,
        chunk=chunk,
        chunk_count=chunk_count,
        prompt=prompt,
        instructions=instructions,
        overview=overview,
        estimated_tokens=estimate_tokens(prompt)
        + estimate_tokens(agent.prompt)
        + estimate_tokens(instructions)
        + estimate_tokens(overview),
        nonce=nonce,
        inputs=inputs,
    )
