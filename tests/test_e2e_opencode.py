"""End to end: the council CLI, a real spawned ``opencode serve``, a scripted model, a real git repo."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.council_run import (
    council_argv,
    council_env,
    council_in_background,
    processes_in,
    run_council,
    wait_gone,
)
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer, ToolCall
from tests.fakes.opencode_env import find_binary, run_opencode_server
from tests.gitrepo import make_repo

pytestmark = pytest.mark.opencode

DB_BASE = "import sqlite3\n\n\ndef connect(path):\n    return sqlite3.connect(path)\n"
DB_NEW = DB_BASE + (
    "\n\ndef find_user(conn, name):\n"
    "    query = \"SELECT * FROM users WHERE name = '%s'\" % name\n"  # line 9
    "    return conn.execute(query).fetchall()\n"
)
UTIL_BASE = "def first_item(items):\n    return items[0]\n"
UTIL_NEW = UTIL_BASE + "\n\ndef last_item(items):\n    return items[len(items)]\n"  # line 6


def finding(
    path: str,
    line: int,
    severity: str,
    title: str,
    category: str,
    confidence: float = 0.9,
    **extra: object,
) -> dict[str, object]:
    return {
        "path": path,
        "line": line,
        "end_line": None,
        "severity": severity,
        "category": category,
        "title": title,
        "body": f"{title}.",
        "suggestion": None,
        "confidence": confidence,
        "evidence": extra.pop("evidence", None),
        **extra,
    }


SQLI = "query = \"SELECT * FROM users WHERE name = '%s'\" % name"


def review_rules() -> list[Rule]:
    return [
        Rule(
            "# Code review: security",
            Reply.structured(
                {
                    "findings": [
                        finding(
                            "app/db.py",
                            9,
                            "critical",
                            "SQL injection in find_user",
                            "security",
                            0.95,
                            evidence=SQLI,
                        )
                    ]
                }
            ),
        ),
        Rule(
            "# Code review: correctness",
            # A text answer (not the StructuredOutput tool): council parses the JSON from the text.
            Reply.text(
                "Findings below.\n```json\n"
                + json.dumps(
                    {
                        "findings": [
                            finding(
                                "app/db.py",
                                9,
                                "high",
                                "SQL injection: name formatted into query",
                                "security",
                                0.8,
                                evidence=SQLI,
                            ),
                            finding(
                                "app/util.py",
                                6,
                                "high",
                                "Off-by-one: items[len(items)] raises IndexError",
                                "correctness",
                                0.9,
                            ),
                        ]
                    }
                )
                + "\n```"
            ),
        ),
        Rule(
            "# Code review: performance",
            Reply.structured(
                {
                    "findings": [
                        finding("app/db.py", 999, "medium", "Invented location", "performance", 0.7)
                    ]
                }
            ),
        ),
        Rule(
            "# Code review: tests",
            [
                Reply.tool_call("read", {"filePath": "app/util.py"}, text="Let me look."),
                Reply.structured({"findings": []}),
            ],
        ),
        Rule(
            "# Code review: maintainability",
            [
                Reply.text("I think the code is fine, mostly."),
                Reply.structured(
                    {
                        "findings": [
                            finding(
                                "app/util.py",
                                5,
                                "low",
                                "last_item lacks a docstring",
                                "maintainability",
                                0.6,
                            )
                        ]
                    }
                ),
            ],
            # OpenCode leaves an answer that failed structured output out of the history it
            # sends back, so the repair request is told apart by count, not by turn.
            step="call",
        ),
        Rule("# Code review: guidelines", Reply.error(401, retry_after=None)),
    ]


SECURITY_PROMPT_LINE = "This is not a hardening checklist."  # only in the agent's prompt


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(default=Reply.text('{"findings": []}')) as server:
        yield server


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path)
    repo.write("app/db.py", DB_BASE)
    repo.write("app/util.py", UTIL_BASE)
    repo.commit("base")
    repo.write("app/db.py", DB_NEW)
    repo.write("app/util.py", UTIL_NEW)
    repo.write("assets/logo.bin", bytes(range(256)) * 4)
    repo.git("add", "assets/logo.bin")
    return repo.root


@pytest.fixture
def env(tmp_path: Path, model: ScriptedModelServer) -> dict[str, str]:
    model.reset(review_rules(), default=Reply.text('{"findings": []}'))
    return council_env(tmp_path, model.base_url)


def test_review_merges_anchors_rejects_and_survives_a_failing_reviewer(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    result = run_council(["review", "--format", "json", "--model", "fake/m"], cwd=planted, env=env)
    assert result.code == 1, result.stderr
    doc = result.json()

    by_title = {f["title"]: f for f in doc["findings"]}
    sqli = [f for f in doc["findings"] if f["path"] == "app/db.py"]
    assert len(sqli) == 1, doc["findings"]  # security + correctness merged into one
    assert sqli[0]["line"] == 9
    assert sqli[0]["reviewers"] == ["correctness", "security"]
    assert sqli[0]["severity"] == "critical"
    assert sqli[0]["anchor"] == "added"
    assert sqli[0]["rank"] == 1
    off_by_one = by_title["Off-by-one: items[len(items)] raises IndexError"]
    assert (off_by_one["path"], off_by_one["line"], off_by_one["reviewers"]) == (
        "app/util.py",
        6,
        ["correctness"],
    )
    assert "last_item lacks a docstring" in by_title  # arrived after one repair turn

    rejected = {(r["reviewer"], r["line"]): r for r in doc["rejected"]}
    assert "outside" in rejected[("performance", 999)]["reason"]
    assert {"path": "assets/logo.bin", "reason": "binary"}.items() <= doc["unreviewed"][0].items()

    reviewers = {r["agent"]: r for r in doc["reviewers"]}
    assert reviewers["guidelines"]["status"] == "failed"
    assert "401" in reviewers["guidelines"]["error"]
    for name in ("security", "correctness", "performance", "tests", "maintainability"):
        assert reviewers[name]["status"] == "ok", reviewers[name]
        assert reviewers[name]["runtime"] == "opencode"
        assert reviewers[name]["model"] == "fake/m"
        assert reviewers[name]["tokens_in"] > 0
        assert reviewers[name]["cost_usd"] > 0
    assert doc["summary"]["failed"] is True
    assert doc["summary"]["counts"]["critical"] == 1

    # OpenCode ran the read tool for the tests reviewer and sent the file back to the model.
    tool_results = [
        t for r in model.requests_matching("# Code review: tests") for t in r.tool_results
    ]
    assert any("items[len(items)]" in t for t in tool_results), tool_results
    # The repair turn carried the validation errors back to the model.
    assert model.requests_matching("did not match")
    # Reviewer sessions are offered read-only tools only.
    offered = {n for r in model.requests_matching("# Code review: security") for n in r.tool_names}
    assert {"read", "grep", "glob"} <= offered
    # bash is offered only for the read-only git commands its rules allow (see the containment test).
    assert not offered & {"edit", "write", "webfetch", "task", "question"}

    assert wait_gone(planted) == [], "opencode left running after the review"


def test_fail_on_never_exits_zero_and_text_output_names_reviewers(
    planted: Path, env: dict[str, str]
) -> None:
    result = run_council(
        ["review", "--fail-on", "never", "--model", "fake/m", "--agents", "security,correctness"],
        cwd=planted,
        env=env,
    )
    assert result.code == 0, result.stderr
    assert "SQL injection" in result.stdout
    assert "app/db.py:9" in result.stdout
    assert "council: 2 reviewers (2 ok, 0 failed)" in result.stderr
    assert wait_gone(planted) == []


def test_every_reviewer_failing_exits_3_with_the_servers_reason(
    planted: Path, env: dict[str, str]
) -> None:
    result = run_council(
        ["review", "--format", "json", "--model", "fake/nope", "--agents", "security,tests"],
        cwd=planted,
        env=env,
    )
    assert result.code == 3, result.stderr
    reviewers = result.json()["reviewers"]
    assert {r["status"] for r in reviewers} == {"failed"}
    assert all("Model not found: fake/nope" in r["error"] for r in reviewers), reviewers
    assert wait_gone(planted) == []


def test_sigint_aborts_sessions_prints_partial_review_and_leaves_nothing(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset(
        [
            Rule("# Code review: security", Reply.stall(120)),
            Rule(
                "# Code review: correctness",
                Reply.structured(
                    {"findings": [finding("app/util.py", 6, "high", "Off-by-one", "correctness")]}
                ),
            ),
        ]
    )
    args = ["review", "--format", "json", "--model", "fake/m", "--agents", "security,correctness"]
    with council_in_background(args, cwd=planted, env=env) as proc:
        deadline = time.monotonic() + 60
        while not model.requests_matching("# Code review: security"):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "security session never reached the model"
            time.sleep(0.1)
        model.wait_for_requests(2, timeout=30)
        time.sleep(2)  # let the correctness session finish; security stays stalled
        assert processes_in(planted), "expected a running opencode server"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - started < 20
    doc = json.loads(stdout)
    reviewers = {r["agent"]: r for r in doc["reviewers"]}
    assert reviewers["security"]["status"] == "cancelled"
    assert reviewers["correctness"]["status"] == "ok"
    assert [f["title"] for f in doc["findings"]] == ["Off-by-one"]
    assert wait_gone(planted) == []


def test_dry_run_plans_without_starting_anything(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    before = len(model.requests)
    result = run_council(
        ["review", "--dry-run", "--model", "fake/m", "--chunk-tokens", "200"], cwd=planted, env=env
    )
    assert result.code == 0, result.stderr
    assert "security#1" in result.stdout
    assert "app/db.py" in result.stdout
    assert "unreviewed: assets/logo.bin (binary" in result.stdout
    assert len(model.requests) == before
    assert processes_in(planted) == []


def test_reviewers_cannot_write_or_run_commands_but_may_read_git(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset(
        [
            Rule(
                "# Code review: security",
                [
                    Reply.tool_calls(
                        [
                            ToolCall(
                                "bash", {"command": "touch pwned.txt", "description": "escape"}
                            ),
                            ToolCall("write", {"filePath": "pwned2.txt", "content": "x"}),
                            ToolCall(
                                "edit",
                                {"filePath": "app/db.py", "oldString": "import", "newString": "x"},
                            ),
                            ToolCall(
                                "bash", {"command": "git log --oneline", "description": "history"}
                            ),
                        ]
                    ),
                    Reply.structured({"findings": []}),
                ],
            )
        ]
    )
    result = run_council(
        ["review", "--format", "json", "--model", "fake/m", "--agents", "security"],
        cwd=planted,
        env=env,
    )
    assert result.code == 0, result.stderr
    assert not (planted / "pwned.txt").exists()
    assert not (planted / "pwned2.txt").exists()
    assert (planted / "app/db.py").read_text() == DB_NEW
    results = [
        t for r in model.requests_matching("# Code review: security") for t in r.tool_results
    ]
    assert len(results) == 4, results
    denied = [t for t in results if "prevents you from using" in t or "unavailable tool" in t]
    assert len(denied) == 3, results
    assert any("base" in t for t in results)  # git log ran: the commit message is in its output


def test_progress_on_a_terminal_shows_one_line_per_reviewer(
    planted: Path, env: dict[str, str]
) -> None:
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            council_argv(
                "review", "--model", "fake/m", "--agents", "security,tests", "--format", "json"
            ),
            cwd=planted,
            env={**env, "COLUMNS": "120"},
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
        )
        os.close(terminal)
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.communicate(timeout=60)
    finally:
        os.close(controller)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    assert proc.returncode == 1
    assert re.search(r"security\s+done\s+[\d.]+s\s+1 finding", screen), screen
    assert re.search(r"tests\s+done\s+[\d.]+s\s+0 findings", screen), screen
    assert "running" in screen or "queued" in screen  # it was live, not only a final summary


def test_running_server_with_password_via_opencode_url(
    planted: Path, env: dict[str, str], model: ScriptedModelServer, tmp_path: Path
) -> None:
    server_env = {**env, "OPENCODE_SERVER_PASSWORD": "s3cret-for-test"}
    with run_opencode_server(
        find_binary("opencode"), cwd=planted, env=server_env, log_path=tmp_path / "server.log"
    ) as server:
        wrong = run_council(
            ["review", "--opencode-url", server.url, "--model", "fake/m", "--agents", "security"],
            cwd=planted,
            env={**env, "OPENCODE_SERVER_PASSWORD": "wrong"},
        )
        assert wrong.code == 2
        assert "OPENCODE_SERVER_PASSWORD" in wrong.stderr
        result = run_council(
            [
                "review",
                "--format",
                "json",
                "--opencode-url",
                server.url,
                "--model",
                "fake/m",
                "--agents",
                "security,tests",
            ],
            cwd=planted,
            env=server_env,
        )
        assert result.code == 1, result.stderr
        doc = result.json()
        assert [f["title"] for f in doc["findings"]] == ["SQL injection in find_user"]
        # No council agents on that server: the reviewer prompt rides along as system
        # text, followed by the review instructions.
        (security, *_) = model.requests_matching("# Code review: security")
        assert SECURITY_PROMPT_LINE in security.system
        assert security.system.index(SECURITY_PROMPT_LINE) < security.system.index(
            "# Reviewing for council"
        )
        assert server.process.poll() is None  # council leaves a server it did not start running


def test_sessions_of_a_reviewer_share_their_system_text_and_differ_in_the_message(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    # One file per session: the security reviewer gets two sessions.
    args = ["review", "--model", "fake/m", "--agents", "security", "--group-tokens", "1"]
    result = run_council([*args, "--dry-run"], cwd=planted, env=env)
    assert result.stdout.count("security") == 2, result.stdout
    run_council(args, cwd=planted, env=env)
    requests = model.requests_matching("# Code review: security")
    first_turns = {r.conversation: r for r in reversed(requests)}
    assert len(first_turns) == 2
    systems = {r.system for r in first_turns.values()}
    messages = {r.text.replace(r.system, "") for r in first_turns.values()}
    # Byte-identical system text (reviewer prompt, then instructions and output
    # contract): a prefix the provider can cache from the second session on.
    (system,) = systems
    assert SECURITY_PROMPT_LINE in system
    assert "# Reviewing for council" in system
    assert "## Output contract" in system
    # ... and the overview of the change: both files, whichever one the session reviews.
    assert "## This change" in system
    assert "- app/db.py\n- app/util.py" in system
    assert len(messages) == 2
    for message in messages:
        assert "## Output contract" not in message
        assert "Fence tag for this message" in message
    assert {"### app/db.py" in m for m in messages} == {True, False}


def test_second_review_of_the_same_change_is_remembered(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    args = ["review", "--format", "json", "--model", "fake/m", "--agents", "security,correctness"]
    first = run_council(args, cwd=planted, env=env)
    assert first.code == 1, first.stderr
    asked = len(model.model_requests)
    started = time.monotonic()
    second = run_council(args, cwd=planted, env=env)
    elapsed = time.monotonic() - started
    assert second.code == 1, second.stderr
    assert len(model.model_requests) == asked  # no session reached the model
    assert {r["status"] for r in second.json()["reviewers"]} == {"cached"}
    assert [f["id"] for f in second.json()["findings"]] == [
        f["id"] for f in first.json()["findings"]
    ]
    assert elapsed < 5  # no OpenCode server was started
    # With the store disabled every session runs again.
    fresh = run_council(args, cwd=planted, env={**env, "COUNCIL_CACHE": "false"})
    assert {r["status"] for r in fresh.json()["reviewers"]} == {"ok"}
    assert len(model.model_requests) > asked
