from pathlib import Path

import pytest

from coordinator.agents import load_roster, parse_agent
from coordinator.errors import AgentError, ConfigError

BUILTIN = {"correctness", "security", "performance", "tests", "maintainability", "guidelines"}
READ_ONLY_DENIED = ("edit", "write", "webfetch", "task", "question")


def _actions(rule: object) -> set[str]:
    return set(rule.values()) if isinstance(rule, dict) else {str(rule)}


def test_builtin_roster_is_complete_and_read_only() -> None:
    roster = load_roster(None)
    assert BUILTIN | {"verifier"} <= set(roster.agents)
    assert {a.name for a in roster.reviewers()} == BUILTIN
    for agent in roster.agents.values():
        assert agent.source == "built-in"
        assert len(agent.prompt) > 500, agent.name
        for tool in READ_ONLY_DENIED:
            assert _actions(agent.permission[tool]) == {"deny"}, (agent.name, tool)
        # Headless sessions hang on 'ask'; nothing may be left at it.
        for tool, rule in agent.permission.items():
            assert "ask" not in _actions(rule), (agent.name, tool)
        bash = agent.permission.get("bash", "deny")
        if isinstance(bash, dict):
            assert bash["*"] == "deny"
            assert all(p.startswith("git ") for p, a in bash.items() if a == "allow")
        assert set(agent.allowed_tools()) >= {"read", "grep", "glob"}
        assert "model" not in agent.runtime_options


def test_project_agents_override_and_extend(tmp_path: Path) -> None:
    folder = tmp_path / ".council" / "agents"
    folder.mkdir(parents=True)
    (folder / "security.md").write_text(
        "---\ndescription: ours\nweight: 2\n---\nOur security prompt.\n"
    )
    (folder / "i18n.md").write_text(
        "---\ndescription: translations\ninclude: ['locales/**']\n---\nCheck strings.\n"
    )
    roster = load_roster(tmp_path)
    assert roster.agents["security"].description == "ours"
    assert roster.agents["security"].weight == 2.0
    assert roster.agents["security"].source == str(folder / "security.md")
    assert roster.agents["i18n"].covers("locales/fr/app.po")
    assert not roster.agents["i18n"].covers("src/app.py")
    assert "i18n" in {a.name for a in roster.reviewers()}


def test_select_unknown_agent_lists_known_ones() -> None:
    roster = load_roster(None)
    with pytest.raises(
        ConfigError, match=r"unknown agent\(s\): nope\. Known agents: .*correctness"
    ):
        roster.select(["security", "nope"])


def test_select_keeps_order_and_dedupes() -> None:
    roster = load_roster(None)
    assert [a.name for a in roster.select(["tests", "security", "tests"])] == ["tests", "security"]


def test_exclude_globs_match_file_names_at_any_depth() -> None:
    agent = parse_agent("x", "---\nexclude: ['*.md', 'docs/*']\n---\nbody", "t")
    assert not agent.covers("deep/dir/README.md")
    assert not agent.covers("docs/guide.txt")
    assert agent.covers("src/main.py")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ndescription: x\n", "never ends"),
        ("---\n: : bad\n---\nbody", "not valid YAML"),
        ("---\ndescription: x\n---\n", "has no prompt"),
        ("---\nweight: heavy\n---\nbody", "could not convert"),
        ("---\ninclude: 3\n---\nbody", "'include' must be a glob"),
    ],
)
def test_broken_agent_files_are_reported(text: str, message: str) -> None:
    with pytest.raises(AgentError, match=message):
        parse_agent("broken", text, "broken.md")
