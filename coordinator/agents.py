"""Reviewer definitions: AgentSpec and the loader for built-in and project agents.

An agent is a Markdown file with YAML front matter in OpenCode's agent format, so
the same file works as ``.opencode/agent/<name>.md``. council reads a few keys of
its own (runtime, include, exclude, weight, max_findings, category) and strips them
before handing the agent to a runtime; everything else passes through untouched.
Permissions are passed to the runtime, never enforced by council.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coordinator.errors import AgentError, ConfigError
from coordinator.resources import builtin_agents_dir

PROJECT_AGENTS_DIR = Path(".council") / "agents"
VERIFIER = "verifier"

# Keys council consumes itself; the rest of the front matter belongs to the runtime.
_COUNCIL_KEYS = frozenset({"runtime", "include", "exclude", "weight", "max_findings", "category"})


@dataclass(frozen=True)
class AgentSpec:
    name: str
    description: str
    prompt: str
    source: str  # "built-in" or the file the definition came from
    model: str | None = None  # "provider/model"
    runtime: str | None = None
    category: str | None = None
    weight: float = 1.0
    max_findings: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    temperature: float | None = None
    permission: Mapping[str, Any] = field(default_factory=dict)
    # Front matter keys council does not interpret (mode, tools, steps, top_p, ...).
    runtime_options: Mapping[str, Any] = field(default_factory=dict)

    def covers(self, path: str) -> bool:
        """Whether this reviewer looks at ``path`` according to include/exclude globs."""
        if self.include and not any(_glob_match(path, g) for g in self.include):
            return False
        return not any(_glob_match(path, g) for g in self.exclude)

    def allowed_tools(self) -> tuple[str, ...]:
        """Tools whose permission is ``allow`` (entirely or for the catch-all pattern)."""
        allowed = []
        for tool, rule in self.permission.items():
            action = rule.get("*") if isinstance(rule, Mapping) else rule
            if action == "allow":
                allowed.append(tool)
        return tuple(allowed)


def _glob_match(path: str, pattern: str) -> bool:
    # A pattern without a slash matches the file name at any depth, as in .gitignore.
    if "/" not in pattern:
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(
        path, pattern.rstrip("/") + "/*"
    )


def split_front_matter(text: str, origin: str) -> tuple[dict[str, Any], str]:
    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        return {}, text.strip()
    lines = text.splitlines(keepends=True)
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            header = "".join(lines[1:end])
            body = "".join(lines[end + 1 :])
            break
    else:
        raise AgentError(f"{origin}: front matter starts with '---' but never ends")
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        raise AgentError(f"{origin}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise AgentError(f"{origin}: front matter must be a mapping, got {type(meta).__name__}")
    return meta, body.strip()


def parse_agent(name: str, text: str, source: str) -> AgentSpec:
    meta, body = split_front_matter(text, source)
    prompt = body or str(meta.get("prompt", "")).strip()
    if not prompt:
        raise AgentError(f"{source}: agent '{name}' has no prompt (the Markdown body is empty)")
    try:
        weight = float(meta.get("weight", 1.0))
        max_findings = meta.get("max_findings")
        max_findings = int(max_findings) if max_findings is not None else None
        temperature = meta.get("temperature")
        temperature = float(temperature) if temperature is not None else None
    except (TypeError, ValueError) as exc:
        raise AgentError(f"{source}: agent '{name}': {exc}") from exc
    permission = meta.get("permission") or {}
    if not isinstance(permission, dict):
        raise AgentError(f"{source}: 'permission' must be a mapping")
    passthrough = {
        k: v
        for k, v in meta.items()
        if k not in _COUNCIL_KEYS
        and k not in {"description", "model", "temperature", "permission", "prompt"}
    }
    return AgentSpec(
        name=name,
        description=str(meta.get("description", "")).strip() or name,
        prompt=prompt,
        source=source,
        model=_optional_str(meta.get("model")),
        runtime=_optional_str(meta.get("runtime")),
        category=_optional_str(meta.get("category")),
        weight=weight,
        max_findings=max_findings,
        include=_str_tuple(meta.get("include"), source, "include"),
        exclude=_str_tuple(meta.get("exclude"), source, "exclude"),
        temperature=temperature,
        permission=permission,
        runtime_options=passthrough,
    )


def _optional_str(value: object) -> str | None:
    return str(value).strip() or None if value is not None else None


def _str_tuple(value: object, source: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise AgentError(f"{source}: '{key}' must be a glob or a list of globs")


def load_agent_file(path: Path, *, builtin: bool = False) -> AgentSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AgentError(f"cannot read agent file {path}: {exc.strerror}") from exc
    return parse_agent(path.stem, text, "built-in" if builtin else str(path))


def _load_dir(folder: Path, *, builtin: bool) -> dict[str, AgentSpec]:
    if not folder.is_dir():
        return {}
    return {p.stem: load_agent_file(p, builtin=builtin) for p in sorted(folder.glob("*.md"))}


@dataclass(frozen=True)
class Roster:
    """Every reviewer council knows of, after project overrides."""

    agents: Mapping[str, AgentSpec]

    def reviewers(self) -> list[AgentSpec]:
        """The default selection: every agent but the verifier (it is a stage, not a reviewer)."""
        return [a for n, a in sorted(self.agents.items()) if n != VERIFIER]

    def select(self, names: Iterable[str] | None) -> list[AgentSpec]:
        if names is None:
            return self.reviewers()
        chosen: list[AgentSpec] = []
        unknown: list[str] = []
        for name in names:
            name = name.strip()
            if not name:
                continue
            if name in self.agents:
                if self.agents[name] not in chosen:
                    chosen.append(self.agents[name])
            else:
                unknown.append(name)
        if unknown:
            known = ", ".join(sorted(self.agents))
            raise ConfigError(f"unknown agent(s): {', '.join(unknown)}. Known agents: {known}")
        if not chosen:
            raise ConfigError("--agents selected no reviewer")
        return chosen


def load_roster(repo: Path | None) -> Roster:
    """Built-in agents, overridden or extended by ``<repo>/.council/agents/*.md``."""
    agents = _load_dir(builtin_agents_dir(), builtin=True)
    if repo is not None:
        agents.update(_load_dir(repo / PROJECT_AGENTS_DIR, builtin=False))
    return Roster(agents)
