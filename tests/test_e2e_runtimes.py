"""The same review through every runtime, a mixed roster, and the fault matrix, via the real CLI.

Every model is the scripted server on loopback; OpenCode and Claude Code are the real
binaries. Each fault test checks that the healthy reviewers' findings still arrive.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.council_run import (
    CouncilResult,
    council_env,
    council_in_background,
    processes_in,
    run_council,
    wait_gone,
)
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.fakes.opencode_env import claude_env, find_binary
from tests.gitrepo import make_repo
from tests.test_e2e_opencode import DB_BASE, DB_NEW, SQLI, UTIL_BASE, UTIL_NEW, finding

pytestmark = [pytest.mark.opencode, pytest.mark.claude]

MODELS = {
    "opencode": "fake/m",
    "claude-code": "anthropic/claude-sonnet-4-5",
    "anthropic": "anthropic/claude-sonnet-4-5",
    "openai": "openai/m",
}
SQLI_FINDING = finding(
    "app/db.py", 9, "critical", "SQL injection in find_user", "security", 0.95, evidence=SQLI
)
OFF_BY_ONE = finding(
    "app/util.py", 6, "high", "Off-by-one: items[len(items)] raises IndexError", "correctness", 0.9
)


def rules() -> list[Rule]:
    return [
        Rule("# Code review: security", Reply.structured({"findings": [SQLI_FINDING]})),
        Rule(
            "# Code review: correctness",
            Reply.text(
                "```json\n"
                + json.dumps(
                    {
                        "findings": [
                            {
                                **SQLI_FINDING,
                                "severity": "high",
                                "title": "SQL injection: name formatted into query",
                                "confidence": 0.8,
                            },
                            OFF_BY_ONE,
                        ]
                    }
                )
                + "\n```"
            ),
        ),
        Rule(
            "# Code review: tests",
            Reply.structured(
                {
                    "findings": [
                        finding(
                            "app/util.py",
                            6,
                            "medium",
                            "Off-by-one: last_item reads items[len(items)]",
                            "correctness",
                            0.7,
                        )
                    ]
                }
            ),
        ),
    ]


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
    return repo.root


@pytest.fixture
def env(tmp_path: Path, model: ScriptedModelServer) -> dict[str, str]:
    model.reset(rules())
    env = council_env(tmp_path, model.base_url)
    claude = claude_env(model.base_url, tmp_path)
    env.update({k: v for k, v in claude.items() if k not in ("PATH", "HOME", "TMPDIR")})
    env.update(
        {
            "COUNCIL_CLAUDE_BIN": find_binary("claude"),
            "OPENAI_BASE_URL": model.openai_base_url,
            "OPENAI_API_KEY": "sk-fake",
        }
    )
    return env


def summary(result: CouncilResult) -> list[tuple[str, str, int, str, tuple[str, ...]]]:
    doc = result.json()
    return [
        (f["id"], f["path"], f["line"], f["severity"], tuple(f["reviewers"]))
        for f in doc["findings"]
    ]


ON_OPENAI = ("--runtime", "openai", "--model", "openai/m", "--agents", "security,correctness")


def review(planted: Path, env: dict[str, str], *args: str, timeout: float = 120) -> CouncilResult:
    return run_council(["review", "--format", "json", *args], cwd=planted, env=env, timeout=timeout)


def test_every_runtime_gives_the_same_merged_review(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    results = {}
    for runtime, model_name in MODELS.items():
        before = len(model.model_requests)
        result = review(
            planted,
            env,
            "--runtime",
            runtime,
            "--model",
            model_name,
            "--agents",
            "security,correctness",
        )
        assert result.code == 1, (runtime, result.stderr)
        reviewers = result.json()["reviewers"]
        assert {r["runtime"] for r in reviewers} == {runtime}
        assert all(r["status"] == "ok" and r["tokens_in"] > 0 for r in reviewers), (
            runtime,
            reviewers,
        )
        results[runtime] = summary(result)
        # Every runtime sends the reviewer prompt, then the shared review instructions,
        # as system text; the message carries only the chunk.
        sent = [r for r in model.model_requests[before:] if "# Code review: security" in r.text]
        assert sent, runtime
        for request in sent:
            system = request.system
            assert "This is not a hardening checklist." in system, runtime
            assert "# Reviewing for council" in system
            assert "## Output contract" in system
            assert "## Output contract" not in request.text.replace(system, ""), runtime
    expected = results["opencode"]
    assert [(p, line, sev, rev) for _, p, line, sev, rev in expected] == [
        ("app/db.py", 9, "critical", ("correctness", "security")),
        ("app/util.py", 6, "high", ("correctness",)),
    ]
    for runtime, got in results.items():
        assert got == expected, runtime
    assert wait_gone(planted) == []


def _project_agent(planted: Path, name: str, runtime: str, model: str) -> None:
    """A project override: the built-in agent's definition, pinned to a runtime and model."""
    builtin = (Path(__file__).resolve().parent.parent / "agents" / f"{name}.md").read_text()
    head, body = builtin.split("\n---\n", 1)
    folder = planted / ".council" / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(f"{head}\nruntime: {runtime}\nmodel: {model}\n---\n{body}")


def test_mixed_roster_merges_across_three_runtimes(planted: Path, env: dict[str, str]) -> None:
    _project_agent(planted, "security", "claude-code", MODELS["claude-code"])
    _project_agent(planted, "correctness", "openai", MODELS["openai"])
    # tests stays on the default runtime (opencode) with OpenCode's default model.
    result = review(planted, env, "--agents", "security,correctness,tests")
    assert result.code == 1, result.stderr
    doc = result.json()
    runtimes = {r["agent"]: r["runtime"] for r in doc["reviewers"]}
    assert runtimes == {"security": "claude-code", "correctness": "openai", "tests": "opencode"}
    assert all(r["status"] == "ok" for r in doc["reviewers"]), doc["reviewers"]
    by_path = {(f["path"], f["line"]): f for f in doc["findings"]}
    assert by_path[("app/db.py", 9)]["reviewers"] == [
        "correctness",
        "security",
    ]  # claude-code + openai
    assert by_path[("app/util.py", 6)]["reviewers"] == ["correctness", "tests"]  # openai + opencode
    assert wait_gone(planted) == []


# ---------------------------------------------------------------------------- fault matrix


def reviewers_of(result: CouncilResult) -> dict[str, dict[str, object]]:
    return {r["agent"]: r for r in result.json()["reviewers"]}


def titles(result: CouncilResult) -> set[str]:
    return {f["title"] for f in result.json()["findings"]}


def test_session_timeout(planted: Path, env: dict[str, str], model: ScriptedModelServer) -> None:
    model.reset([Rule("# Code review: security", Reply.stall(60)), *rules()[1:]])
    started = time.monotonic()
    result = review(
        planted,
        env,
        "--runtime",
        "openai",
        "--model",
        "openai/m",
        "--agents",
        "security,correctness",
        "--timeout",
        "2",
    )
    assert time.monotonic() - started < 30
    who = reviewers_of(result)
    assert who["security"]["status"] == "timeout"
    assert who["correctness"]["status"] == "ok"
    assert OFF_BY_ONE["title"] in titles(result)
    assert result.code == 1


def test_429_with_retry_after_then_success(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset(
        [
            Rule(
                "# Code review: security",
                [Reply.error(429, retry_after=1), Reply.structured({"findings": [SQLI_FINDING]})],
                step="call",
            ),
            *rules()[1:],
        ]
    )
    result = review(
        planted,
        env,
        "--runtime",
        "anthropic",
        "--model",
        MODELS["anthropic"],
        "--agents",
        "security,correctness",
    )
    who = reviewers_of(result)
    assert who["security"]["status"] == "ok"
    assert who["security"]["retries"] == 1
    attempts = model.requests_matching("# Code review: security")
    assert len(attempts) == 2
    assert attempts[1].time - attempts[0].time >= 0.9  # Retry-After honoured
    assert "SQL injection in find_user" in titles(result)


def test_500_on_every_call_fails_that_reviewer_only(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset([Rule("# Code review: security", Reply.error(500)), *rules()[1:]])
    result = review(planted, env, *ON_OPENAI)
    who = reviewers_of(result)
    assert who["security"]["status"] == "failed"
    assert "500" in str(who["security"]["error"])
    assert who["security"]["retries"] == 2  # three attempts in all, then it gives up
    assert who["correctness"]["status"] == "ok"
    assert OFF_BY_ONE["title"] in titles(result)


def wait_for_model(model: ScriptedModelServer, proc: subprocess.Popen[str], *needles: str) -> None:
    """Block until each needle's session has reached the model, failing if council exits first."""
    deadline = time.monotonic() + 60
    while not all(model.requests_matching(n) for n in needles):
        if proc.poll() is not None:
            raise AssertionError(f"council exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"sessions never reached the model: {needles}")
        time.sleep(0.1)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused(planted: Path, env: dict[str, str], model: ScriptedModelServer) -> None:
    _project_agent(planted, "security", "anthropic", MODELS["anthropic"])
    env = {**env, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{_closed_port()}"}
    result = review(
        planted,
        env,
        "--model",
        MODELS["openai"],
        "--agents",
        "security,correctness",
        "--runtime",
        "openai",
    )
    # --runtime overrides every agent: run again letting the project agent pick anthropic.
    assert reviewers_of(result)["security"]["runtime"] == "openai"
    _project_agent(planted, "correctness", "openai", MODELS["openai"])
    result = review(planted, env, "--agents", "security,correctness")
    who = reviewers_of(result)
    assert who["security"]["status"] == "failed"
    assert "connect" in str(who["security"]["error"]).lower()
    assert who["correctness"]["status"] == "ok"
    assert OFF_BY_ONE["title"] in titles(result)


def test_model_server_dropping_the_stream_mid_answer(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset(
        [
            Rule(
                "# Code review: security",
                [
                    Reply.drop(2, Reply.text(json.dumps({"findings": [SQLI_FINDING]}), chunks=6)),
                    Reply.structured({"findings": [SQLI_FINDING]}),
                ],
                step="call",
            ),
            *rules()[1:],
        ]
    )
    result = review(planted, env, *ON_OPENAI)
    who = reviewers_of(result)
    assert who["security"]["status"] == "ok", who["security"]
    assert who["security"]["retries"] == 1
    # The retried answer arrived and merged with correctness's report of the same injection.
    merged = [f for f in result.json()["findings"] if f["path"] == "app/db.py"]
    assert [(f["title"], f["reviewers"]) for f in merged] == [
        ("SQL injection in find_user", ["correctness", "security"])
    ]
    assert OFF_BY_ONE["title"] in titles(result)


def test_opencode_server_killed_mid_review(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    _project_agent(planted, "correctness", "openai", MODELS["openai"])
    model.reset([Rule("# Code review: security", Reply.stall(60)), *rules()[1:]])
    args = ["review", "--format", "json", "--agents", "security,correctness"]
    with council_in_background(args, cwd=planted, env=env) as proc:
        wait_for_model(model, proc, "# Code review: security")
        servers = [p for p in processes_in(planted) if "serve" in p and "opencode" in p]
        assert servers, processes_in(planted)
        for line in servers:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=90)
    doc = json.loads(stdout)
    who = {r["agent"]: r for r in doc["reviewers"]}
    assert who["security"]["status"] == "failed", stderr
    assert "OpenCode" in who["security"]["error"]
    assert who["correctness"]["status"] == "ok"
    assert OFF_BY_ONE["title"] in {f["title"] for f in doc["findings"]}
    assert wait_gone(planted) == []


def test_output_that_is_never_json_is_repaired_once_then_failed(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset([Rule("# Code review: security", Reply.text("Looks fine to me!")), *rules()[1:]])
    result = review(planted, env, *ON_OPENAI)
    who = reviewers_of(result)
    assert who["security"]["status"] == "failed"
    assert "invalid output after one repair turn" in str(who["security"]["error"])
    assert "Looks fine to me!" in str(who["security"]["error"])  # the raw answer is kept
    assert len(model.requests_matching("# Code review: security")) == 2  # one repair turn, no more
    assert OFF_BY_ONE["title"] in titles(result)


def test_finding_on_a_line_that_does_not_exist_is_rejected(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    ghost = finding("app/util.py", 4000, "critical", "Ghost finding", "security", 0.99)
    model.reset(
        [Rule("# Code review: security", Reply.structured({"findings": [ghost]})), *rules()[1:]]
    )
    result = review(planted, env, *ON_OPENAI)
    doc = result.json()
    assert "Ghost finding" not in titles(result)
    assert [r["reason"] for r in doc["rejected"] if r["title"] == "Ghost finding"] == [
        "location outside the diff (app/util.py:4000)"
    ]
    assert OFF_BY_ONE["title"] in titles(result)


def test_sigint_mid_review_with_claude_code(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    _project_agent(planted, "security", "claude-code", MODELS["claude-code"])
    _project_agent(planted, "correctness", "openai", MODELS["openai"])
    model.reset([Rule("# Code review: security", Reply.stall(60)), *rules()[1:]])
    args = ["review", "--format", "json", "--agents", "security,correctness"]
    with council_in_background(args, cwd=planted, env=env) as proc:
        wait_for_model(model, proc, "# Code review: security", "# Code review: correctness")
        time.sleep(1)
        assert any("claude" in p for p in processes_in(planted))
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    doc = json.loads(stdout)
    who = {r["agent"]: r for r in doc["reviewers"]}
    assert who["security"]["status"] == "cancelled"
    assert who["correctness"]["status"] == "ok"
    assert wait_gone(planted) == [], "a claude process outlived the review"


def test_every_reviewer_failing_exits_3(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset([Rule("# Code review:", Reply.error(401))])
    result = review(planted, env, *ON_OPENAI)
    assert result.code == 3, result.stderr
    assert {r["status"] for r in result.json()["reviewers"]} == {"failed"}
