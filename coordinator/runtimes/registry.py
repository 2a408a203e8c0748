"""Which runtimes exist, how to build one, and which one is the default here.

Each factory imports its runtime when called: a runtime module loads its HTTP or
process machinery (httpx ...), and a review answered from the stores, the git
hook's usual case, starts no runtime and so imports none.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coordinator.agents import AgentSpec
from coordinator.config import ReviewSettings
from coordinator.containment import runtime_env
from coordinator.errors import ConfigError
from coordinator.runtimes.base import Runtime


@dataclass(frozen=True)
class RuntimeContext:
    workdir: Path
    agents: Sequence[AgentSpec]  # every agent that will run on this runtime
    settings: ReviewSettings
    env: Mapping[str, str]


def _opencode(ctx: RuntimeContext) -> Runtime:
    from coordinator.runtimes.opencode import OpenCodeRuntime

    return OpenCodeRuntime(
        workdir=ctx.workdir,
        agents=ctx.agents,
        url=ctx.settings.opencode_url,
        password=ctx.env.get("OPENCODE_SERVER_PASSWORD"),
        binary=ctx.env.get("COUNCIL_OPENCODE_BIN") or None,
        env=runtime_env(ctx.env, "opencode", untrusted=ctx.settings.untrusted),
        project_config=not ctx.settings.untrusted,
    )


def _claude_code(ctx: RuntimeContext) -> Runtime:
    from coordinator.runtimes.claude_code import ClaudeCodeRuntime

    # The binary is looked up when the runtime is entered: missing -> RuntimeUnavailable.
    return ClaudeCodeRuntime(
        binary=ctx.env.get("COUNCIL_CLAUDE_BIN") or None,
        env=runtime_env(ctx.env, "claude-code", untrusted=ctx.settings.untrusted),
    )


def _anthropic(ctx: RuntimeContext) -> Runtime:
    from coordinator.runtimes.anthropic import AnthropicRuntime

    return AnthropicRuntime(env=runtime_env(ctx.env, "anthropic", untrusted=ctx.settings.untrusted))


def _openai(ctx: RuntimeContext) -> Runtime:
    from coordinator.runtimes.openai import OpenAIRuntime

    return OpenAIRuntime(env=runtime_env(ctx.env, "openai", untrusted=ctx.settings.untrusted))


RUNTIME_FACTORIES: dict[str, Callable[[RuntimeContext], Runtime]] = {
    "opencode": _opencode,
    "claude-code": _claude_code,
    "anthropic": _anthropic,
    "openai": _openai,
}


def default_runtime(
    settings: ReviewSettings,
    env: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    """DESIGN.md's order: opencode, then anthropic, then openai, else a fixable error."""
    if settings.runtime:
        return settings.runtime
    if settings.opencode_url or which(env.get("COUNCIL_OPENCODE_BIN") or "opencode"):
        return "opencode"
    if env.get("ANTHROPIC_API_KEY") and "anthropic" in RUNTIME_FACTORIES:
        return "anthropic"
    if (env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL")) and "openai" in RUNTIME_FACTORIES:
        return "openai"
    raise ConfigError(
        "no agent runtime available. Install OpenCode ('npm install -g opencode-ai') and "
        "configure a provider, pass --opencode-url URL for a running OpenCode server, "
        "or set ANTHROPIC_API_KEY or OPENAI_API_KEY / OPENAI_BASE_URL."
    )


def runtime_for_agent(settings: ReviewSettings, default: str) -> Callable[[AgentSpec], str]:
    """--runtime overrides every agent; otherwise an agent's own ``runtime`` wins."""

    def choose(agent: AgentSpec) -> str:
        name = settings.runtime or agent.runtime or default
        if name not in RUNTIME_FACTORIES:
            known = ", ".join(sorted(RUNTIME_FACTORIES))
            raise ConfigError(
                f"agent '{agent.name}' asks for unknown runtime '{name}' (known: {known})"
            )
        return name

    return choose
