"""End to end: `council review --github` as an Actions step would run it, against a real
`opencode serve`, the scripted model and the fake GitHub API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from tests.council_run import CouncilResult, council_env, run_council
from tests.fakes.github_api import SCHEMAS, FakeGitHub
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.gitrepo import GitRepo, git_env, make_repo

DB_BASE = "import sqlite3\n\n\ndef connect(path):\n    return sqlite3.connect(path)\n"
SQLI = "    query = \"SELECT * FROM users WHERE name = '%s'\" % name"
DB_NEW = DB_BASE + f"\n\ndef find_user(conn, name):\n{SQLI}\n    return conn.execute(query)\n"
UTIL_BASE = "def first_item(items):\n    return items[0]\n"
UTIL_BUG = UTIL_BASE + "\n\ndef last_item(items):\n    return items[len(items)]\n"  # line 6
UTIL_FIXED = UTIL_BASE + "\n\ndef last_item(items):\n    return items[-1]\n"
EVAL_LINE = "    return eval(text)"
UTIL_EVAL = UTIL_FIXED + f"\n\ndef parse(text):\n{EVAL_LINE}\n"  # line 10


def finding(path: str, line: int, severity: str, title: str, evidence: str) -> dict[str, object]:
    return {
        "path": path,
        "line": line,
        "end_line": None,
        "severity": severity,
        "category": "security" if severity == "critical" else "correctness",
        "title": title,
        "body": f"{title}. cc @octocat",
        "suggestion": None,
        "confidence": 0.9,
        "evidence": evidence,
    }


def rules() -> list[Rule]:
    return [
        Rule(
            re.compile(r"# Code review: security[\s\S]*SELECT \* FROM users"),
            Reply.structured(
                {"findings": [finding("app/db.py", 9, "critical", "SQL injection", SQLI.strip())]}
            ),
        ),
        Rule(
            re.compile(r"# Code review: correctness[\s\S]*eval\(text\)"),
            Reply.structured(
                {"findings": [finding("app/util.py", 10, "high", "eval of input", "eval(text)")]}
            ),
        ),
        Rule(
            re.compile(r"# Code review: correctness[\s\S]*items\[len\(items\)\]"),
            Reply.structured(
                {"findings": [finding("app/util.py", 6, "high", "Off-by-one", "items[len(items)]")]}
            ),
        ),
    ]


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(default=Reply.text('{"findings": []}')) as server:
        yield server


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


@dataclass
class Job:
    repo: GitRepo
    base: str
    head: str
    env: dict[str, str]
    gh: FakeGitHub
    event: Path

    def set_head(self, head: str, *, fork: bool = False) -> None:
        self.head = head
        head_repo = "someone/app" if fork else "acme/app"
        self.event.write_text(
            json.dumps(
                {
                    "action": "synchronize",
                    "number": 7,
                    "pull_request": {
                        "number": 7,
                        "draft": False,
                        "head": {"sha": head, "ref": "feature", "repo": {"full_name": head_repo}},
                        "base": {
                            "sha": self.base,
                            "ref": "main",
                            "repo": {"full_name": "acme/app"},
                        },
                    },
                    "repository": {"full_name": "acme/app"},
                }
            )
        )
        patch = self.repo.git("diff", f"{self.base}...{head}")
        if 7 in self.gh.pulls:
            self.gh.push(7, head_sha=head, patch=patch)
        else:
            self.gh.add_pull(7, base_sha=self.base, head_sha=head, patch=patch)

    def run(self, *extra: str, env: dict[str, str] | None = None) -> CouncilResult:
        args = ["review", "--github", "--model", "fake/m", "--agents", "security,correctness"]
        return run_council(
            [*args, "--no-verify", *extra], cwd=self.repo.root, env=env or self.env, timeout=90
        )

    def outputs(self) -> dict[str, str]:
        text = Path(self.env["GITHUB_OUTPUT"]).read_text()
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.fixture
def job(tmp_path: Path, model: ScriptedModelServer, gh: FakeGitHub) -> Job:
    model.reset(rules(), default=Reply.text('{"findings": []}'))
    env = council_env(tmp_path / "council", model.base_url)
    env.update({k: v for k, v in git_env(Path(env["HOME"])).items() if k.startswith("GIT_")})
    repo = make_repo(tmp_path, env=env)
    repo.write("app/db.py", DB_BASE)
    repo.write("app/util.py", UTIL_BASE)
    base = repo.commit("base")
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("app/db.py", DB_NEW)
    repo.write("app/util.py", UTIL_BUG)
    head = repo.commit("feature")
    event = tmp_path / "event.json"
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_REPOSITORY="acme/app",
        GITHUB_TOKEN="ghs_actions_token",
        GITHUB_API_URL=gh.url,
        GITHUB_SERVER_URL="https://github.test",
        GITHUB_RUN_ID="42",
        GITHUB_STEP_SUMMARY=str(tmp_path / "step_summary.md"),
        GITHUB_OUTPUT=str(tmp_path / "github_output"),
        COUNCIL_SARIF_FILE=str(tmp_path / "council.sarif"),
    )
    made = Job(repo, base, head, env, gh, event)
    made.set_head(head)
    return made


def test_first_run_posts_a_review_rerun_posts_nothing_new_push_posts_only_new(
    job: Job, gh: FakeGitHub, model: ScriptedModelServer, tmp_path: Path
) -> None:
    first = job.run("--format", "json", "-o", str(tmp_path / "results.json"))
    assert first.code == 1, first.stderr  # a critical finding, fail-on high
    assert gh.violations == []
    assert len(gh.reviews) == 1
    review = gh.reviews[0]
    assert (review["event"], review["commit_id"]) == ("COMMENT", job.head)
    assert sorted((c["path"], c["line"]) for c in gh.review_comments) == [
        ("app/db.py", 9),
        ("app/util.py", 6),
    ]
    assert all("@octocat" not in c["body"] for c in gh.review_comments)
    assert len(gh.issue_comments) == 1
    assert "SQL injection" in gh.issue_comments[0]["body"]
    # Model text is fenced off from the workflow-command parser; the review is in -o.
    stop = re.search(r"^::stop-commands::(\w+)$", first.stdout, re.MULTILINE)
    assert stop
    assert f"::{stop.group(1)}::" in first.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert [f["title"] for f in results["findings"]] == ["SQL injection", "Off-by-one"]
    assert "## council review" in Path(job.env["GITHUB_STEP_SUMMARY"]).read_text()
    outputs = job.outputs()
    assert outputs["findings"] == "2"
    assert outputs["critical"] == "1"
    assert outputs["failed"] == "true"
    assert outputs["posted"] == "true"
    assert outputs["review-url"].endswith(f"#pullrequestreview-{review['id']}")
    sarif = json.loads(Path(job.env["COUNCIL_SARIF_FILE"]).read_text())
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert len(sarif["runs"][0]["results"]) == 2

    # The same head again: the review store answers, GitHub gets nothing new.
    requests = len(model.requests)
    again = job.run()
    assert again.code == 1, again.stderr
    assert len(model.requests) == requests
    assert len(gh.reviews) == 1
    assert len(gh.review_comments) == 2
    assert len(gh.issue_comments) == 1

    # A push fixes the off-by-one and adds an eval: only the eval is posted.
    job.repo.write("app/util.py", UTIL_EVAL)
    job.set_head(job.repo.commit("fix, and parse"))
    third = job.run()
    assert third.code == 1, third.stderr
    assert gh.violations == []
    assert len(gh.reviews) == 2
    newest = [c for c in gh.review_comments if c["pull_request_review_id"] == gh.reviews[1]["id"]]
    assert [(c["path"], c["line"]) for c in newest] == [("app/util.py", 10)]
    # The off-by-one's comment, unanswered, goes with it.
    assert [(c["path"], c["original_line"]) for c in gh.deleted_comments] == [("app/util.py", 6)]
    assert sorted(c["line"] for c in gh.review_comments) == [9, 10]
    assert "deleted 1 stale comments" in third.stderr
    summary = gh.issue_comments[0]["body"]
    assert len(gh.issue_comments) == 1
    assert "eval of input" in summary
    assert "SQL injection" in summary
    assert "~~Off-by-one~~" in summary
    assert job.head[:12] in summary


def test_missing_token_is_a_clear_configuration_error(
    job: Job, gh: FakeGitHub, model: ScriptedModelServer
) -> None:
    env = {k: v for k, v in job.env.items() if k != "GITHUB_TOKEN"}
    result = job.run(env=env)
    assert result.code == 2
    assert "GITHUB_TOKEN is not set" in result.stderr
    assert "pull-requests: write" in result.stderr
    assert "Traceback" not in result.stderr
    assert gh.calls == []
    assert model.requests == []


def test_not_a_pull_request_event_is_a_clear_configuration_error(job: Job) -> None:
    result = job.run(env={**job.env, "GITHUB_EVENT_NAME": "push"})
    assert result.code == 2
    assert "runs for the 'push' event" in result.stderr


def test_fork_pr_without_secrets_says_why(job: Job, gh: FakeGitHub) -> None:
    job.set_head(job.head, fork=True)
    env = {k: v for k, v in job.env.items() if k != "COUNCIL_OPENCODE_BIN"}
    env.update(PATH="/usr/bin:/bin", GITHUB_TOKEN="ghs_fork_token")
    result = job.run(env=env)
    assert result.code == 2
    assert "no agent runtime available" in result.stderr
    assert "comes from the fork someone/app" in result.stderr
    assert "Traceback" not in result.stderr
    assert gh.reviews == []


def test_read_only_token_falls_back_to_annotations_and_exit_4(job: Job, gh: FakeGitHub) -> None:
    result = job.run(env={**job.env, "GITHUB_TOKEN": "ghs_fork_token"})
    assert result.code == 4, result.stderr
    assert gh.reviews == []
    assert gh.issue_comments == []
    assert "::error::council could not post the review: the token cannot write" in result.stdout
    assert re.search(r"^::error file=app/db\.py,line=9,endLine=9,title=", result.stdout, re.M)
    assert re.search(
        r"^::warning file=app/util\.py|^::error file=app/util\.py", result.stdout, re.M
    )
    assert "could not post this review" in Path(job.env["GITHUB_STEP_SUMMARY"]).read_text()
    assert job.outputs()["posted"] == "false"


DB_FILE_LEVEL = finding("app/db.py", 1, "medium", "Connections are never closed", "import sqlite3")


def test_file_level_findings_get_file_comments_and_fixed_findings_lose_theirs(
    job: Job, gh: FakeGitHub, model: ScriptedModelServer
) -> None:
    sqli = finding("app/db.py", 9, "critical", "SQL injection", SQLI.strip())
    model.reset(
        [
            Rule(
                re.compile(r"# Code review: security[\s\S]*SELECT \* FROM users"),
                Reply.structured({"findings": [sqli, DB_FILE_LEVEL]}),
            )
        ],
        default=Reply.text('{"findings": []}'),
    )
    first = job.run("--agents", "security")
    assert first.code == 1, first.stderr
    assert gh.violations == []
    by_kind = {c["subject_type"]: c for c in gh.review_comments}
    assert set(by_kind) == {"line", "file"}
    assert (by_kind["line"]["path"], by_kind["line"]["line"]) == ("app/db.py", 9)
    assert by_kind["file"]["path"] == "app/db.py"
    assert "Connections are never closed" in by_kind["file"]["body"]
    assert "1 file comments" in first.stderr

    # A push that parameterises the query: neither finding is reported, both comments go.
    safe = '    query = "SELECT id, name FROM users WHERE name = ?"'
    fixed = DB_NEW.replace(SQLI, safe).replace("execute(query)", "execute(query, (name,))")
    job.repo.write("app/db.py", fixed)
    job.set_head(job.repo.commit("parameterise"))
    second = job.run("--agents", "security")
    assert second.code == 0, second.stderr
    assert gh.violations == []
    assert gh.review_comments == []
    assert sorted(c["subject_type"] for c in gh.deleted_comments) == ["file", "line"]
    assert "~~SQL injection~~" in gh.issue_comments[0]["body"]


def test_a_dry_run_is_refused_before_github_is_touched(job: Job, gh: FakeGitHub) -> None:
    stale = gh.add_comment(
        7,
        login="github-actions[bot]",
        user_type="Bot",
        body="old <!-- council:fp=0123456789abcdef -->",
        path="app/db.py",
        line=9,
    )
    result = job.run("--dry-run")
    assert result.code == 2
    assert "cannot take --dry-run" in result.stderr
    assert gh.calls == []
    assert gh.review_comments == [stale]
