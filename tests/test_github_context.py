"""Reading the Actions environment, --github's defaults, safe text, and comment placement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coordinator.errors import ConfigError
from coordinator.findings import Anchor, ReviewFinding, Severity
from coordinator.integrations.github_action import github_defaults
from coordinator.integrations.github_event import PullRequest, load_context
from coordinator.integrations.github_review import DiffLines, inline_body, place
from coordinator.integrations.github_summary import ListedFinding, SummaryState
from coordinator.integrations.sanitize import safe_markdown, secret_values

BASE, HEAD = "a" * 40, "b" * 40


def event(tmp_path: Path, *, head_repo: str = "acme/app", **pr: Any) -> Path:
    path = tmp_path / "event.json"
    pull = {
        "number": 7,
        "head": {"sha": HEAD, "repo": {"full_name": head_repo}},
        "base": {"sha": BASE, "repo": {"full_name": "acme/app"}},
        **pr,
    }
    path.write_text(json.dumps({"number": 7, "pull_request": pull}))
    return path


def env_for(path: Path, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_TOKEN": "ghs_x",
        **extra,
    }


def test_context_from_the_actions_environment(tmp_path: Path) -> None:
    ctx = load_context(
        env_for(
            event(tmp_path),
            GITHUB_API_URL="https://ghe.test/api/v3/",
            GITHUB_SERVER_URL="https://ghe.test",
            GITHUB_RUN_ID="5",
            GITHUB_ACTIONS="true",
        )
    )
    assert (ctx.pull.owner, ctx.pull.repo, ctx.pull.number) == ("acme", "app", 7)
    assert (ctx.pull.base_sha, ctx.pull.head_sha) == (BASE, HEAD)
    assert not ctx.pull.is_fork
    assert ctx.api_url == "https://ghe.test/api/v3"
    assert ctx.run_url == "https://ghe.test/acme/app/actions/runs/5"
    assert ctx.in_actions


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"GITHUB_EVENT_PATH": ""}, "GITHUB_EVENT_PATH is not set"),
        ({"GITHUB_TOKEN": ""}, "GITHUB_TOKEN is not set"),
        ({"GITHUB_EVENT_NAME": "push"}, "runs for the 'push' event"),
        ({"GITHUB_REPOSITORY": "other/repo"}, "belongs to acme/app"),
        ({"GITHUB_EVENT_PATH": "/nonexistent/event.json"}, "cannot read GITHUB_EVENT_PATH"),
    ],
)
def test_what_is_missing_is_named(tmp_path: Path, change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_context({**env_for(event(tmp_path)), **change})


def test_a_bad_sha_in_the_payload_is_named(tmp_path: Path) -> None:
    path = event(tmp_path, head={"sha": "nope", "repo": {"full_name": "acme/app"}})
    with pytest.raises(ConfigError, match=r"pull_request\.head\.sha"):
        load_context(env_for(path))


def test_github_turns_on_verify_and_untrusted_for_forks_unless_set(tmp_path: Path) -> None:
    own = PullRequest("acme", "app", 7, BASE, HEAD, "acme/app", "acme/app", "pull_request")
    fork = PullRequest("acme", "app", 7, BASE, HEAD, "acme/app", "them/app", "pull_request")
    target = PullRequest(
        "acme", "app", 7, BASE, HEAD, "acme/app", "acme/app", "pull_request_target"
    )
    assert github_defaults({}, tmp_path, {}, own) == {"verify": True}
    assert github_defaults({}, tmp_path, {}, fork) == {"verify": True, "untrusted": True}
    assert github_defaults({}, tmp_path, {}, target)["untrusted"] is True
    assert github_defaults({"verify": False}, tmp_path, {}, own) == {"verify": False}
    assert github_defaults({}, tmp_path, {"COUNCIL_VERIFY": "0"}, own) == {}
    (tmp_path / ".council.toml").write_text("untrusted = false\n")
    assert "untrusted" not in github_defaults({}, tmp_path, {}, fork)


def test_secret_values_come_from_secret_looking_variables() -> None:
    found = secret_values(
        {"GITHUB_TOKEN": "ghs_123456789", "OPENAI_API_KEY": "sk-abcdefgh", "HOME": "/home/x",
         "SHORT_TOKEN": "abc"}
    )  # fmt: skip
    assert set(found) == {"ghs_123456789", "sk-abcdefgh"}


def test_safe_markdown_keeps_code_as_written() -> None:
    text = "Use `a<b` or\n~~~\n@x <y>\n~~~\nthen @y <z>"
    assert safe_markdown(text) == "Use `a<b` or\n~~~\n@x <y>\n~~~\nthen @\u200by &lt;z&gt;"


def review_finding(
    line: int, end: int | None = None, suggestion: str | None = None
) -> ReviewFinding:
    return ReviewFinding(
        id="f" * 16,
        rank=1,
        score=1.0,
        path="a.py",
        line=line,
        end_line=end,
        severity=Severity.HIGH,
        category="x",
        title="t",
        confidence=0.5,
        suggestion=suggestion,
        reviewers=["r"],
        anchor=Anchor.ADDED,
    )


def test_placement_uses_whole_hunks_from_githubs_patches() -> None:
    lines = DiffLines.from_pull_files(
        [
            {"filename": "a.py", "status": "modified", "patch": "@@ -1,3 +1,4 @@\n x\n+y\n z\n w\n@@ -20 +21,2 @@\n-q\n+r\n+s"},
            {"filename": "gone.py", "status": "removed", "patch": "@@ -1 +0,0 @@\n-x"},
            {"filename": "big.bin", "status": "modified"},
        ]
    )  # fmt: skip
    assert place(review_finding(2), lines) is not None
    assert place(review_finding(2, 4), lines).start_line == 2  # type: ignore[union-attr]
    assert place(review_finding(21, 22), lines).exact  # type: ignore[union-attr]
    across = place(review_finding(3, 21), lines)  # two hunks: the first line only, not exact
    assert across is not None
    assert (across.start_line, across.line, across.exact) == (None, 3, False)
    assert place(review_finding(10), lines) is None
    assert not lines.in_one_hunk("gone.py", 1, 1)
    assert not lines.in_one_hunk("big.bin", 1, 1)


def test_a_suggestion_gets_back_the_indentation_parsing_took() -> None:
    lines = DiffLines({"a.py": [(1, 3)]}, {"a.py": {2: "        return x"}})
    body = inline_body(
        review_finding(2, suggestion="return y\n        pass"),
        place(review_finding(2), lines),
        lines,
        (),
    )  # type: ignore[arg-type]
    assert "```suggestion\n        return y\n        pass\n```" in body
    deletion = inline_body(
        review_finding(2, suggestion=""), place(review_finding(2), lines), lines, ()
    )  # type: ignore[arg-type]
    assert "```suggestion\n```" in deletion


def test_summary_state_survives_a_round_trip_and_tolerates_damage() -> None:
    state = SummaryState(
        HEAD, (ListedFinding("f" * 16, "high", "a.py", 3, "Title -- with <!-- -->"),)
    )
    assert SummaryState.decode("text\n" + state.encode()) == state
    assert SummaryState.decode("<!-- council:state bm90IGpzb24= -->") is None
    assert SummaryState.decode("no marker") is None
