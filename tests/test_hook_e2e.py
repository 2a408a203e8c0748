"""End to end: real `git push` to a bare remote runs council's installed pre-push hook,
which reviews through a real `opencode serve` and the scripted model."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.council_run import council_env, run_council, wait_gone
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.gitrepo import GitRepo, git_env, make_repo

pytestmark = pytest.mark.opencode

BASE = "import sqlite3\n\n\ndef connect(path):\n    return sqlite3.connect(path)\n"
SQLI_LINE = "    query = \"SELECT * FROM users WHERE name = '%s'\" % name"
DEFECT = BASE + f"\n\ndef find_user(conn, name):\n{SQLI_LINE}\n    return conn.execute(query)\n"
CLEAN = BASE + "\n\ndef close(conn):\n    conn.close()\n"


def sqli_finding() -> dict[str, object]:
    return {
        "path": "app/db.py",
        "line": 9,
        "end_line": None,
        "severity": "critical",
        "category": "security",
        "title": "SQL injection in find_user",
        "body": "The name is formatted into the SQL text.",
        "suggestion": None,
        "confidence": 0.95,
        "evidence": SQLI_LINE.strip(),
    }


def rules() -> list[Rule]:
    # The security reviewer reports the injection whenever the diff it is shown contains it.
    return [
        Rule(
            re.compile(r"# Code review: security[\s\S]*SELECT \* FROM users"),
            Reply.structured({"findings": [sqli_finding()]}),
        )
    ]


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(default=Reply.text('{"findings": []}')) as server:
        yield server


@dataclass
class Push:
    code: int
    stderr: str
    seconds: float


@dataclass
class Workspace:
    repo: GitRepo
    remote: Path
    env: dict[str, str]

    def push(self, *args: str, env: dict[str, str] | None = None) -> Push:
        started = time.monotonic()
        done = subprocess.run(
            ["git", "push", *args],
            cwd=self.repo.root,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Push(done.returncode, done.stderr, time.monotonic() - started)

    def remote_sha(self, branch: str) -> str | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.remote), "rev-parse", "--verify", "--quiet", branch],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        return done.stdout.strip() or None


@pytest.fixture
def workspace(tmp_path: Path, model: ScriptedModelServer) -> Workspace:
    model.reset(rules(), default=Reply.text('{"findings": []}'))
    env = council_env(tmp_path / "council", model.base_url)
    env.update(
        {k: v for k, v in git_env(Path(env["HOME"])).items() if k.startswith("GIT_")},
        COUNCIL_AGENTS="security",
        COUNCIL_MODEL="fake/m",
        NO_COLOR="1",
    )
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True, env=env)
    repo = make_repo(tmp_path, env=env)
    repo.write("app/db.py", BASE)
    repo.write("README.md", "# app\n")
    repo.commit("base")
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "--quiet", "--no-verify", "origin", "main")
    installed = run_council(["hook", "install"], cwd=repo.root, env=env)
    assert installed.code == 0, installed.stderr
    assert "pre-push hook installed" in installed.stderr
    return Workspace(repo, remote, env)


def test_clean_push_passes_after_a_review(workspace: Workspace, model: ScriptedModelServer) -> None:
    workspace.repo.write("app/db.py", CLEAN)
    head = workspace.repo.commit("add close()")
    result = workspace.push("origin", "main")
    assert result.code == 0, result.stderr
    assert "council: reviewing main" in result.stderr
    assert "no finding at or above high" in result.stderr
    assert workspace.remote_sha("main") == head
    assert model.requests_matching("# Code review: security")
    assert wait_gone(workspace.repo.root) == []


def test_critical_defect_blocks_then_a_repeat_push_reuses_the_stored_review(
    workspace: Workspace, model: ScriptedModelServer
) -> None:
    before = workspace.remote_sha("main")
    workspace.repo.write("app/db.py", DEFECT)
    workspace.repo.commit("find users")
    first = workspace.push("origin", "main")
    assert first.code != 0, first.stderr
    assert "[CRITICAL] app/db.py:9" in first.stderr
    assert "SQL injection in find_user" in first.stderr
    assert "push blocked: 1 finding at or above high" in first.stderr
    assert "git push --no-verify" in first.stderr
    assert "COUNCIL_SKIP=1" in first.stderr
    assert workspace.remote_sha("main") == before  # git did not push
    requests = len(model.requests)
    assert requests > 0

    again = workspace.push("origin", "main")
    assert again.code != 0
    assert "reusing the stored review" in again.stderr
    assert "[CRITICAL] app/db.py:9" in again.stderr
    assert len(model.requests) == requests  # not one model request: no session ran
    assert again.seconds < 1.0, f"a stored review took {again.seconds:.2f}s"
    assert wait_gone(workspace.repo.root) == []


def test_new_branch_push_reviews_only_the_new_commits(
    workspace: Workspace, model: ScriptedModelServer
) -> None:
    workspace.repo.git("checkout", "--quiet", "-b", "feature")
    workspace.repo.write("app/util.py", "def first(items):\n    return items[0]\n")
    workspace.repo.commit("util")
    result = workspace.push("-u", "origin", "feature")
    assert result.code == 0, result.stderr
    assert "council: reviewing feature" in result.stderr
    prompts = model.requests_matching("# Code review: security")
    assert prompts
    text = "\n".join(r.text for r in prompts)
    assert "app/util.py" in text
    assert "def connect(path)" not in text  # main's history is already on the remote
    assert "README.md" not in text


def test_deleting_a_branch_is_not_reviewed(
    workspace: Workspace, model: ScriptedModelServer
) -> None:
    workspace.repo.git("push", "--quiet", "--no-verify", "origin", "main:refs/heads/old")
    result = workspace.push("origin", "--delete", "old")
    assert result.code == 0, result.stderr
    assert "deleted, nothing to review" in result.stderr
    assert workspace.remote_sha("old") is None
    assert model.requests == []


def test_council_skip_bypasses_the_review(workspace: Workspace, model: ScriptedModelServer) -> None:
    workspace.repo.write("app/db.py", DEFECT)
    head = workspace.repo.commit("find users")
    result = workspace.push("origin", "main", env={**workspace.env, "COUNCIL_SKIP": "1"})
    assert result.code == 0, result.stderr
    assert "COUNCIL_SKIP=1" in result.stderr
    assert workspace.remote_sha("main") == head
    assert model.requests == []


def test_without_a_runtime_the_hook_warns_and_lets_the_push_through_unless_strict(
    workspace: Workspace, model: ScriptedModelServer
) -> None:
    bare = {k: v for k, v in workspace.env.items() if k != "COUNCIL_OPENCODE_BIN"}
    bare["PATH"] = "/usr/bin:/bin"  # git, but no opencode; no model API keys either
    workspace.repo.write("app/db.py", DEFECT)
    head = workspace.repo.commit("find users")

    strict = workspace.push("origin", "main", env={**bare, "COUNCIL_STRICT_HOOK": "1"})
    assert strict.code != 0
    assert "no agent runtime available" in strict.stderr
    assert "push blocked (strict_hook)" in strict.stderr

    result = workspace.push("origin", "main", env=bare)
    assert result.code == 0, result.stderr
    assert "warning: " in result.stderr
    assert "no agent runtime available" in result.stderr
    assert "pushing without a review" in result.stderr
    assert workspace.remote_sha("main") == head
    assert model.requests == []


def test_fail_on_from_council_toml_lets_a_high_finding_through(
    workspace: Workspace, model: ScriptedModelServer
) -> None:
    workspace.repo.write(".council.toml", 'fail_on = "never"\n')
    workspace.repo.write("app/db.py", DEFECT)
    head = workspace.repo.commit("find users, never block")
    result = workspace.push("origin", "main")
    assert result.code == 0, result.stderr
    assert "[CRITICAL] app/db.py:9" in result.stderr  # still shown
    assert workspace.remote_sha("main") == head


def test_hook_run_reads_pre_commit_environment(
    workspace: Workspace, model: ScriptedModelServer
) -> None:
    base = workspace.repo.head()
    workspace.repo.write("app/db.py", DEFECT)
    head = workspace.repo.commit("find users")
    env = {
        **workspace.env,
        "PRE_COMMIT": "1",
        "PRE_COMMIT_FROM_REF": base,
        "PRE_COMMIT_TO_REF": head,
        "PRE_COMMIT_REMOTE_NAME": "origin",
        "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/main",
    }
    result = run_council(["hook", "run", "pre-push"], cwd=workspace.repo.root, env=env, stdin="")
    assert result.code == 1, result.stderr
    assert "SQL injection in find_user" in result.stderr


def test_when_every_reviewer_fails_the_hook_warns_unless_strict(
    workspace: Workspace, model: ScriptedModelServer
) -> None:
    model.reset([Rule("# Code review: security", Reply.error(401))])
    workspace.repo.write("app/db.py", DEFECT)
    head = workspace.repo.commit("find users")

    strict = workspace.push("origin", "main", env={**workspace.env, "COUNCIL_STRICT_HOOK": "1"})
    assert strict.code != 0
    assert "every reviewer failed" in strict.stderr
    assert "push blocked (strict_hook)" in strict.stderr
    assert workspace.remote_sha("main") != head

    result = workspace.push("origin", "main")
    assert result.code == 0, result.stderr
    assert "warning: " in result.stderr
    assert "every reviewer failed" in result.stderr
    assert "401" in result.stderr
    assert workspace.remote_sha("main") == head
    assert wait_gone(workspace.repo.root) == []
