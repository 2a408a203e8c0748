"""Render the prompt templates in prompts/ for one assignment. Pure but for reading templates."""

from __future__ import annotations

import json
import secrets
from functools import cache
from string import Template
from typing import Any

from coordinator.agents import AgentSpec
from coordinator.diff.model import Chunk, FileStatus
from coordinator.diff.render import render_chunk
from coordinator.resources import prompts_dir

# A change's overview lists at most this many names and bytes of names, then says how
# many more: it rides in every session's system text, which Claude Code takes on its
# command line (at most 128 KiB in one argument on Linux).
MAX_LISTED_FILES = 200
MAX_LISTED_BYTES = 16_000


@cache
def load_template(name: str) -> Template:
    return Template((prompts_dir() / f"{name}.md").read_text(encoding="utf-8"))


def new_nonce() -> str:
    """An unguessable delimiter tag, so diff text cannot close the data fence it sits in."""
    return secrets.token_hex(6)


def output_contract(max_findings: int) -> str:
    return load_template("output_contract").safe_substitute(max_findings=max_findings)


def shown_path(path: str) -> str:
    """A path for a one-name-per-line list: control characters escaped.

    Git allows a newline in a file name; printed as is, one name could pass for two
    entries, or end a list with a line of its own.
    """
    if path.isprintable():
        return path
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in path)


def _file_list(chunk: Chunk) -> str:
    lines = []
    for f in chunk.files:
        status = f.status.value
        if f.status in (FileStatus.RENAMED, FileStatus.COPIED) and f.old_path:
            status += f" from {shown_path(f.old_path)}"
        lines.append(f"- {shown_path(f.path)} ({status}, +{f.additions}/-{f.deletions})")
    return "\n".join(lines)


@cache
def render_review_instructions(max_findings: int) -> str:
    """The fixed half of a review: how to read the diff, untrusted data, the output contract.

    It is sent as system text after the reviewer's own prompt and is the same for
    every session of that reviewer, so providers that cache prompt prefixes bill it
    as a cache read from the second session on; only the message changes per chunk.
    """
    return load_template("review_instructions").safe_substitute(
        output_contract=output_contract(max_findings)
    )


def render_change_overview(changed: tuple[str, ...], nonce: str) -> str:
    """The files of a change, for reviewers that see part of it: shared system text.

    A reviewer that sees one file then knows what else moved and can read it. The
    list is the same for every session of the run (``nonce`` is the run's), so it
    stays in the cacheable prefix; it is no part of any result-store key, so a push
    that adds a file leaves the other files' answers valid. File names come from the
    repository: they sit in a data fence like the diff.
    """
    lines: list[str] = []
    size = 0
    for path in changed[:MAX_LISTED_FILES]:
        line = f"- {shown_path(path)}"
        size += len(line.encode()) + 1
        if size > MAX_LISTED_BYTES:
            break
        lines.append(line)
    if len(lines) < len(changed):
        lines.append(f"- ... and {len(changed) - len(lines)} more")
    return load_template("change_overview").safe_substitute(files="\n".join(lines), nonce=nonce)


def render_review_prompt(
    agent: AgentSpec,
    chunk: Chunk,
    *,
    chunk_count: int,
    source: str,
    guidelines: str,
    nonce: str,
) -> str:
    """The message for one chunk; the instructions it relies on are its system text."""
    chunk_label = (
        "the whole change" if chunk_count == 1 else f"part {chunk.index + 1} of {chunk_count}"
    )
    guideline_text = guidelines.strip() or load_template("guidelines_none").template.strip()
    return load_template("review").safe_substitute(
        agent_name=agent.name,
        agent_description=agent.description,
        source=source or "a diff",
        chunk_label=chunk_label,
        file_list=_file_list(chunk),
        guidelines=guideline_text,
        diff=render_chunk(chunk),
        nonce=nonce,
    )


def render_repair_prompt(errors: str, max_findings: int) -> str:
    return load_template("repair").safe_substitute(
        errors=errors, output_contract=output_contract(max_findings)
    )


def render_verifier_prompt(finding: dict[str, Any], code: str, nonce: str) -> str:
    return load_template("verifier").safe_substitute(
        finding=json.dumps(finding, indent=2, ensure_ascii=False), code=code, nonce=nonce
    )
