"""``council eval`` through the real CLI against scripted models whose precision/recall is known.

The openai runtime talks to the scripted model server on loopback (HTTP only, fast).
The dataset built here has two cases — a ``patch`` case with a base tree and a
``repo`` case in a real git repository — and two reviewers scripted so every number
of the report is known by construction:

- case ``calc`` (4 golden issues): correctness reports 3 of them plus 1 false
  positive; security reports all 4. Merged: the 4 plus the false positive.
- case ``parser`` (1 golden issue): correctness finds it; security reports only a
  false positive.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.findings import Finding
from coordinator.merge import fingerprint
from tests.council_run import CouncilResult, council_argv, run_council
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.gitrepo import git_env, make_repo

REPO_ROOT = Path(__file__).resolve().parent.parent
CALC_LINES = 60
CALC_GOLDEN = (5, 20, 35, 50)
PARSER_GOLDEN = 15


def calc_line(n: int) -> str:
    return f"v{n} = compute({n})"


def finding(path: str, line: int, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "path": path,
        "line": line,
        "end_line": None,
        "severity": "high",
        "category": "correctness",
        "title": title,
        "body": f"{title}.",
        "suggestion": None,
        "confidence": 0.9,
        "evidence": None,
        **extra,
    }


def golden(path: str, line: int, description: str) -> dict[str, Any]:
    return {"path": path, "line": line, "description": description}


# The same title for the same problem, so merge clusters the two reviewers' reports.
CALC_TITLES = {
    5: "Division by zero when the list is empty",
    20: "Loop skips the last element",
    35: "Result is truncated to an int",
    50: "Cache key ignores the currency",
}
CALC_FALSE_POSITIVE = finding("app/calc.py", 58, "Variable name is not descriptive")
CORRECTNESS_CALC = [
    finding("app/calc.py", 5, CALC_TITLES[5]),
    finding("app/calc.py", 22, CALC_TITLES[20]),  # 2 lines off: inside the window
    finding("app/calc.py", 35, CALC_TITLES[35]),
    CALC_FALSE_POSITIVE,
]
SECURITY_CALC = [
    finding("app/calc.py", 5, CALC_TITLES[5]),
    finding("app/calc.py", 20, CALC_TITLES[20]),
    finding("app/calc.py", 35, CALC_TITLES[35]),
    finding("app/calc.py", 51, CALC_TITLES[50]),
]
CORRECTNESS_PARSER = [finding("lib/parse.py", 16, "Unterminated quote loops forever")]
SECURITY_PARSER = [finding("lib/parse.py", 28, "Log message has a typo")]


def review_rules() -> list[Rule]:
    def on(path: str) -> Any:
        return lambda req: path in req.text

    return [
        Rule(
            "# Code review: correctness",
            Reply.structured({"findings": CORRECTNESS_CALC}),
            when=on("app/calc.py"),
        ),
        Rule(
            "# Code review: security",
            Reply.structured({"findings": SECURITY_CALC}),
            when=on("app/calc.py"),
        ),
        Rule(
            "# Code review: correctness",
            Reply.structured({"findings": CORRECTNESS_PARSER}),
            when=on("lib/parse.py"),
        ),
        Rule(
            "# Code review: security",
            Reply.structured({"findings": SECURITY_PARSER}),
            when=on("lib/parse.py"),
        ),
    ]


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, model: ScriptedModelServer) -> dict[str, str]:
    model.reset(review_rules())
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "OPENAI_", "COUNCIL_", "OPENCODE_"))
    }
    env = git_env(tmp_path / "home", base)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        OPENAI_BASE_URL=model.openai_base_url,
        OPENAI_API_KEY="sk-fake",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Two cases: ``calc`` (patch + base tree) and ``parser`` (a git repository)."""
    root = tmp_path / "dataset"
    work = make_repo(tmp_path, "calc-work")
    work.write("README.md", "calculator\n")
    work.commit("base")
    work.write("app/calc.py", "".join(calc_line(n) + "\n" for n in range(1, CALC_LINES + 1)))
    work.commit("head")
    case = root / "cases" / "calc"
    case.mkdir(parents=True)
    (case / "change.patch").write_text(work.git("diff", "HEAD~1", "HEAD"))
    (case / "base").mkdir()
    shutil.copy(work.path("README.md"), case / "base" / "README.md")

    parser = make_repo(root, "repos/parser")
    parser.write("lib/parse.py", "".join(f"p{n} = {n}\n" for n in range(1, 11)))
    parser.commit("base")
    parser.write("lib/parse.py", "".join(f"p{n} = {n}\n" for n in range(1, 31)))
    parser.commit("head")

    lines = [
        {
            "id": "calc",
            "patch": "cases/calc/change.patch",
            "base_tree": "cases/calc/base",
            "golden": [golden("app/calc.py", n, CALC_TITLES[n]) for n in CALC_GOLDEN],
        },
        {
            "id": "parser",
            "repo": "repos/parser",
            "base": "main~1",
            "head": "main",
            "golden": [golden("lib/parse.py", PARSER_GOLDEN, "an unterminated quote never ends")],
        },
    ]
    (root / "cases.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


def council_eval(dataset: Path, env: dict[str, str], *args: str) -> CouncilResult:
    return run_council(
        [
            "eval",
            str(dataset),
            "--runtime",
            "openai",
            "--model",
            "openai/m",
            "--agents",
            "correctness,security",
            *args,
        ],
        cwd=dataset.parent,
        env=env,
        timeout=120,
    )


def rows(doc: dict[str, Any], where: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        r["name"]: (r["tp"], r["fp"], r["fn"], r["precision"], r["recall"], r["f1"])
        for r in where["rows"]
    }


def case_of(doc: dict[str, Any], case_id: str) -> dict[str, Any]:
    return next(c for c in doc["cases"] if c["id"] == case_id)


def test_reports_exact_precision_recall_f1_per_reviewer_merged_and_total(
    dataset: Path, env: dict[str, str]
) -> None:
    result = council_eval(dataset, env, "--format", "json")
    assert result.code == 0, result.stderr
    doc = result.json()

    calc = case_of(doc, "calc")
    assert rows(doc, calc) == {
        "correctness": (3, 1, 1, 0.75, 0.75, 0.75),
        "security": (4, 0, 0, 1.0, 1.0, 1.0),
        "merged": (4, 1, 0, 0.8, 1.0, 0.8889),
    }
    merged = next(r for r in calc["rows"] if r["name"] == "merged")
    assert [(m["golden"], m["finding"]["line"], m["distance"]) for m in merged["matched"]] == [
        (0, 5, 0),
        (1, 22, 2),
        (2, 35, 0),
        (3, 51, 1),
    ]
    assert [(f["path"], f["line"]) for f in merged["false_positives"]] == [("app/calc.py", 58)]
    correctness = next(r for r in calc["rows"] if r["name"] == "correctness")
    assert correctness["missed"] == [3]
    assert correctness["status"] == "ok"

    parser = case_of(doc, "parser")
    assert rows(doc, parser) == {
        "correctness": (1, 0, 0, 1.0, 1.0, 1.0),
        "security": (0, 1, 1, 0.0, 0.0, 0.0),
        "merged": (1, 1, 0, 0.5, 1.0, 0.6667),
    }

    assert rows(doc, doc["totals"]) == {
        "correctness": (4, 1, 1, 0.8, 0.8, 0.8),
        "security": (4, 1, 1, 0.8, 0.8, 0.8),
        "merged": (5, 2, 0, 0.7143, 1.0, 0.8333),
    }
    # Usage: the scripted server reports 100 tokens in and 20 out per reply.
    for case in doc["cases"]:
        assert (case["tokens_in"], case["tokens_out"]) == (200, 40)
        assert case["status"] == "ok"
        assert case["wall_s"] > 0
        by_name = {r["name"]: r for r in case["rows"]}
        assert (by_name["correctness"]["tokens_in"], by_name["merged"]["tokens_in"]) == (100, 200)
    totals = doc["totals"]
    assert (totals["cases"], totals["golden"], totals["tokens_in"]) == (2, 5, 400)
    assert totals["cost_usd"] == 0.0
    assert doc["settings"]["line_window"] == 3
    assert doc["dataset"]["cases"] == 2
    assert "merged precision 0.714 recall 1.000 F1 0.833" in result.stderr


def test_text_report_shows_every_row_and_the_misses(dataset: Path, env: dict[str, str]) -> None:
    result = council_eval(dataset, env)
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "[1/2] calc: 4 golden" in out
    assert "[2/2] parser: 1 golden" in out
    lines = out.splitlines()
    totals = lines[lines.index(next(x for x in lines if x.startswith("Totals over 2 cases"))) :]
    merged = next(x for x in totals if x.split()[:1] == ["merged"])
    assert merged.split()[:7] == ["merged", "5", "2", "0", "0.714", "1.000", "0.833"]
    correctness = next(x for x in lines if x.split()[:1] == ["correctness"])
    assert correctness.split()[:7] == ["correctness", "3", "1", "1", "0.750", "0.750", "0.750"]
    assert "false positive (merged): app/calc.py:58  Variable name is not descriptive" in out
    assert "tokens 400 in / 80 out" in out


def test_line_window_is_a_flag(dataset: Path, env: dict[str, str]) -> None:
    result = council_eval(dataset, env, "--format", "json", "--line-window", "1")
    assert result.code == 0, result.stderr
    calc = case_of(result.json(), "calc")
    # correctness's report 2 lines from golden 20 no longer counts; security's at 51 still does.
    assert rows(result.json(), calc)["correctness"][:3] == (2, 2, 2)
    assert rows(result.json(), calc)["security"][:3] == (4, 0, 0)


def test_cases_flag_runs_a_subset(dataset: Path, env: dict[str, str]) -> None:
    result = council_eval(dataset, env, "--format", "json", "--cases", "parser")
    assert result.code == 0, result.stderr
    assert [c["id"] for c in result.json()["cases"]] == ["parser"]


def test_verified_row_removes_what_the_verifier_refuted(
    dataset: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    fp = Finding.model_validate(CALC_FALSE_POSITIVE)
    fp_id = fingerprint(fp, calc_line(58))
    model.add_rule(
        Rule(
            "# Verify findings in app/calc.py",
            Reply.structured(
                {
                    "verdicts": [
                        {
                            "id": fp_id,
                            "verdict": "refuted",
                            "confidence": 0.9,
                            "reason": "app/calc.py:58 is a plain assignment; the name is fine.",
                            "evidence": calc_line(58),
                        }
                    ]
                }
            ),
        )
    )
    result = council_eval(dataset, env, "--format", "json", "--verify", "--cases", "calc")
    assert result.code == 0, result.stderr
    doc = result.json()
    calc = case_of(doc, "calc")
    assert rows(doc, calc) == {
        "correctness": (3, 1, 1, 0.75, 0.75, 0.75),
        "security": (4, 0, 0, 1.0, 1.0, 1.0),
        "merged": (4, 1, 0, 0.8, 1.0, 0.8889),
        "verified": (4, 0, 0, 1.0, 1.0, 1.0),
    }
    by_name = {r["name"]: r for r in calc["rows"]}
    assert by_name["verified"]["tokens_in"] > by_name["merged"]["tokens_in"]  # the verifier's
    assert doc["settings"]["verify"] is True
    assert "verified precision 1.000 recall 1.000 F1 1.000" in result.stderr


def test_reviewer_failure_is_reported_and_scored_as_misses(
    dataset: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset(
        [
            Rule("# Code review: security", Reply.error(400, {"error": {"message": "bad model"}})),
            *review_rules(),
        ]
    )
    result = council_eval(dataset, env, "--format", "json")
    assert result.code == 0, result.stderr
    doc = result.json()
    security = next(r for r in case_of(doc, "calc")["rows"] if r["name"] == "security")
    assert (security["status"], security["tp"], security["fn"]) == ("failed", 0, 4)
    assert "bad model" in security["error"]
    total = next(r for r in doc["totals"]["rows"] if r["name"] == "security")
    assert total["failed_cases"] == 2
    assert rows(doc, doc["totals"])["correctness"] == (4, 1, 1, 0.8, 0.8, 0.8)


def test_every_reviewer_failing_exits_3_with_the_numbers(
    dataset: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset([Rule("# Code review:", Reply.error(400, {"error": {"message": "no"}}))])
    result = council_eval(dataset, env, "--format", "json")
    assert result.code == 3, result.stderr
    doc = result.json()
    assert doc["incomplete_cases"] == ["calc", "parser"]
    assert rows(doc, doc["totals"])["merged"] == (0, 0, 5, None, 0.0, 0.0)


# ----------------------------------------------------------------------------- judge


def judge_dataset(root: Path) -> Path:
    """One patch-only case (no base tree): two golden issues, one reviewer finding near each."""
    work = make_repo(root, "judge-work")
    work.write("README.md", "x\n")
    work.commit("base")
    work.write("app/calc.py", "".join(calc_line(n) + "\n" for n in range(1, 41)))
    work.commit("head")
    folder = root / "judged"
    folder.mkdir()
    (folder / "change.patch").write_text(work.git("diff", "HEAD~1", "HEAD"))
    case = {
        "id": "judged",
        "patch": "change.patch",
        "golden": [
            golden("app/calc.py", 10, "division by zero on an empty list"),
            golden("app/calc.py", 30, "the loop skips the last element"),
        ],
    }
    (folder / "cases.jsonl").write_text(json.dumps(case) + "\n")
    return folder


JUDGE_RULE_TEXT = "You are the judge of a code-review benchmark"


def judged_rules(judge: Reply) -> list[Rule]:
    return [
        Rule(
            "# Code review: correctness",
            Reply.structured(
                {
                    "findings": [
                        finding("app/calc.py", 10, "Division by zero when the list is empty"),
                        finding("app/calc.py", 32, "Magic number should be a constant"),
                    ]
                }
            ),
        ),
        Rule(JUDGE_RULE_TEXT, judge),
    ]


def test_judge_vetoes_a_nearby_finding_about_something_else(
    tmp_path: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    folder = judge_dataset(tmp_path)
    verdicts = {
        "verdicts": [
            {"pair": 1, "same_issue": True, "reason": "both: division by zero"},
            {"pair": 2, "same_issue": False, "reason": "naming, not the loop bound"},
        ]
    }
    model.reset(judged_rules(Reply.structured(verdicts)))
    plain = council_eval(folder, env, "--format", "json", "--agents", "correctness")
    assert plain.code == 0, plain.stderr
    assert rows(plain.json(), plain.json()["totals"])["correctness"][:3] == (2, 0, 0)

    result = council_eval(
        folder, env, "--format", "json", "--agents", "correctness", "--judge", "openai/judge-m"
    )
    assert result.code == 0, result.stderr
    doc = result.json()
    assert rows(doc, doc["totals"]) == {
        "correctness": (1, 1, 1, 0.5, 0.5, 0.5),
        "merged": (1, 1, 1, 0.5, 0.5, 0.5),
    }
    case = doc["cases"][0]
    assert case["judge"] == {
        "pairs": 2,
        "accepted": 1,
        "cost_usd": 0.0,
        "tokens_in": 100,
        "tokens_out": 20,
        "error": None,
    }
    assert (doc["settings"]["judge"], doc["settings"]["judge_runtime"]) == (
        "openai/judge-m",
        "openai",
    )
    asked = model.requests_matching(JUDGE_RULE_TEXT)
    assert len(asked) == 1  # one session for the case; the merged row's copy is not re-asked
    assert asked[0].model == "judge-m"
    assert "division by zero on an empty list" in asked[0].text
    assert "Magic number should be a constant" in asked[0].text


def test_judge_on_the_anthropic_runtime(
    tmp_path: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    folder = judge_dataset(tmp_path)
    verdicts = {
        "verdicts": [
            {"pair": 1, "same_issue": False, "reason": "x"},
            {"pair": 2, "same_issue": False, "reason": "y"},
        ]
    }
    model.reset(judged_rules(Reply.structured(verdicts)))
    env = {**env, "ANTHROPIC_BASE_URL": model.base_url, "ANTHROPIC_API_KEY": "sk-ant-fake"}
    result = run_council(
        [
            "eval",
            str(folder),
            "--runtime",
            "anthropic",
            "--model",
            "anthropic/claude-sonnet-4-5",
            "--agents",
            "correctness",
            "--judge",
            "anthropic/claude-haiku-4-5",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert result.code == 0, result.stderr
    doc = result.json()
    assert doc["settings"]["judge_runtime"] == "anthropic"
    assert rows(doc, doc["totals"])["correctness"][:3] == (0, 2, 2)
    asked = model.requests_matching(JUDGE_RULE_TEXT)
    assert [r.api for r in asked] == ["anthropic"]
    assert asked[0].model == "claude-haiku-4-5"


def test_a_failing_judge_falls_back_to_the_window_and_says_so(
    tmp_path: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    folder = judge_dataset(tmp_path)
    model.reset(judged_rules(Reply.text("I would rather not say.")))
    result = council_eval(
        folder, env, "--format", "json", "--agents", "correctness", "--judge", "openai/judge-m"
    )
    assert result.code == 0, result.stderr
    doc = result.json()
    assert rows(doc, doc["totals"])["correctness"][:3] == (2, 0, 0)
    error = doc["cases"][0]["judge"]["error"]
    assert "invalid judge answer after one repair turn" in error
    assert len(model.requests_matching(JUDGE_RULE_TEXT)) == 2  # the answer and one repair turn
    text = council_eval(folder, env, "--agents", "correctness", "--judge", "openai/judge-m")
    assert "judge FAILED, scored by line window only" in text.stdout


def test_judge_needs_an_http_runtime(tmp_path: Path, env: dict[str, str]) -> None:
    folder = judge_dataset(tmp_path)
    bare = {k: v for k, v in env.items() if not k.startswith("OPENAI_")}
    result = run_council(
        ["eval", str(folder), "--runtime", "opencode", "--judge", "x/y"], cwd=tmp_path, env=bare
    )
    assert result.code == 2
    assert "--judge runs on the anthropic or openai runtime" in result.stderr


def test_ctrl_c_reports_the_finished_cases_and_exits_130(
    dataset: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    # The second case's security session never answers.
    model.reset(
        [
            Rule(
                "# Code review: security", Reply.stall(60), when=lambda r: "lib/parse.py" in r.text
            ),
            *review_rules(),
        ]
    )
    proc = subprocess.Popen(
        [
            *council_argv("eval", str(dataset), "--runtime", "openai", "--model", "openai/m"),
            *("--agents", "correctness,security", "--format", "json"),
        ],
        cwd=dataset.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not model.requests_matching(re.compile(r"# Code review: security[\s\S]*lib/parse")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the second case never reached the model"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    doc = json.loads(stdout)
    assert doc["interrupted"] is True
    assert [c["id"] for c in doc["cases"]] == ["calc"]
    assert rows(doc, doc["totals"])["merged"] == (4, 1, 0, 0.8, 1.0, 0.8889)
    assert "(interrupted)" in stderr
