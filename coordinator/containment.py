"""What an untrusted review may run with: read-only reviewers, base-branch definitions, no secrets.

A pull request from a fork can change anything in its branch, including
``.council/agents/``, ``AGENTS.md`` and ``opencode.json``. With ``--untrusted``
council takes those from the base commit instead, refuses reviewers that could write,
run commands or reach the web, and hands each runtime only the secrets it needs.
Tokens for the forge and CI (GITHUB_TOKEN and friends) never reach a runtime at all.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from coordinator.agents import PROJECT_AGENTS_DIR, AgentSpec, Roster, load_roster, parse_agent
from coordinator.errors import ConfigError

# Never needed by a model runtime; exactly what an injected prompt would try to steal.
ALWAYS_DROPPED = frozenset(
    {
        "GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_PAT",
        "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_CACHE_URL", "ACTIONS_RESULTS_URL", "CI_JOB_TOKEN", "GITLAB_TOKEN",
        "NPM_TOKEN", "NODE_AUTH_TOKEN", "TWINE_PASSWORD", "PYPI_TOKEN", "CODECOV_TOKEN",
    }
)  # fmt: skip
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|API_KEY|_KEY$|_PAT$")
# What each runtime legitimately reads to reach its model provider.
_RUNTIME_NEEDS: dict[str, re.Pattern[str]] = {
    "opencode": re.compile(r"_API_KEY$|^(AWS|AZURE|GOOGLE|VERTEX|OPENROUTER|OLLAMA|OPENCODE)_"),
    "claude-code": re.compile(r"^(ANTHROPIC|CLAUDE|AWS|GOOGLE|VERTEX|CLOUD_ML)_"),
    "anthropic": re.compile(r"^ANTHROPIC_"),
    "openai": re.compile(r"^OPENAI_"),
}

_WRITE_OR_NETWORK_TOOLS = frozenset(
    {"edit", "write", "patch", "multiedit", "webfetch", "websearch", "codesearch", "task", "*"}
)
_READ_ONLY_GIT = re.compile(r"^git (diff|log|show|blame|status|grep|ls-files|rev-parse)( |\*|$)")
_SHELL_META = re.compile(r"[;&|`$<>()\n]")


def runtime_env(env: Mapping[str, str], runtime: str, *, untrusted: bool) -> dict[str, str]:
    """The environment a runtime's process or client gets."""
    needs = _RUNTIME_NEEDS.get(runtime)
    out: dict[str, str] = {}
    for name, value in env.items():
        if name in ALWAYS_DROPPED:
            continue
        if untrusted and _SECRET_NAME.search(name) and not (needs and needs.search(name)):
            continue
        out[name] = value
    return out


def _allows(rule: object) -> list[str]:
    """Patterns a permission rule allows (``["*"]`` for a plain allow or ask)."""
    if isinstance(rule, Mapping):
        return [str(p) for p, action in rule.items() if action in ("allow", "ask")]
    return ["*"] if rule in ("allow", "ask") else []


def unsafe_permissions(agent: AgentSpec) -> list[str]:
    """Why ``agent`` is not read-only: tools that write, reach the network, or run commands."""
    problems = []
    for tool, rule in agent.permission.items():
        allowed = _allows(rule)
        if not allowed:
            continue
        if tool in _WRITE_OR_NETWORK_TOOLS:
            problems.append(f"{tool}: {'allow' if allowed == ['*'] else ', '.join(allowed)}")
        elif tool == "bash":
            bad = [p for p in allowed if not _READ_ONLY_GIT.match(p) or _SHELL_META.search(p)]
            if bad:
                problems.append(f"bash: {', '.join(bad)}")
    tools = agent.runtime_options.get("tools")
    if isinstance(tools, Mapping):
        for tool, enabled in tools.items():
            if enabled and str(tool) in _WRITE_OR_NETWORK_TOOLS | {"bash"}:
                problems.append(f"tools.{tool}: true")
    return problems


def check_untrusted_roster(agents: Iterable[AgentSpec]) -> None:
    refused = {a.name: unsafe_permissions(a) for a in agents}
    refused = {name: why for name, why in refused.items() if why}
    if refused:
        lines = "; ".join(f"{name} ({', '.join(why)})" for name, why in sorted(refused.items()))
        raise ConfigError(
            f"--untrusted: refusing reviewers that may write, run commands or use the web: {lines}"
        )


def git_show(repo: Path, ref: str, path: str) -> str | None:
    """A file's text at ``ref``, or None when it does not exist there."""
    done = subprocess.run(
        ["git", "-C", str(repo), "show", f"{ref}:{path}"], capture_output=True, check=False
    )
    return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else None


def roster_at(repo: Path, ref: str) -> Roster:
    """Built-in reviewers plus the project's ``.council/agents`` as they are at ``ref``."""
    agents = dict(load_roster(None).agents)
    folder = PROJECT_AGENTS_DIR.as_posix()
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "--name-only", f"{ref}:{folder}"],
        capture_output=True,
        text=True,
        check=False,
    )
    names: Sequence[str] = listed.stdout.split() if listed.returncode == 0 else []
    for name in sorted(n for n in names if n.endswith(".md")):
        text = git_show(repo, ref, f"{folder}/{name}")
        if text is not None:
            agents[name[:-3]] = parse_agent(name[:-3], text, f"{ref[:12]}:{folder}/{name}")
    return Roster(agents)
