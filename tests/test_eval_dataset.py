"""The eval dataset format: what loads, and how every mistake is reported (exit 2, line numbers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coordinator.cli import main
from coordinator.evaluation.dataset import DatasetError, load_dataset
from tests.gitrepo import isolate_git, make_repo

PATCH = (
    "diff --git a/app.py b/app.py\n"
    "new file mode 100644\n"
    "--- /dev/null\n"
    "+++ b/app.py\n"
    "@@ -0,0 +1,2 @@\n"
    "+x = 1\n"
    "+y = x / 0\n"
)
GOLDEN = [{"path": "app.py", "line": 2, "description": "division by zero"}]


def write(folder: Path, lines: list[Any], name: str = "cases.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "change.patch").write_text(PATCH)
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    (folder / name).write_text(text)
    return folder / name


def case(**fields: Any) -> dict[str, Any]:
    return {"id": "c1", "patch": "change.patch", "golden": GOLDEN, **fields}


def problems(path: Path) -> str:
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    return str(caught.value)


def test_loads_patch_and_repo_cases_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "data", "repos/r")
    repo.write("a.py", "a\n")
    repo.commit("one")
    path = write(
        tmp_path / "data",
        [
            case(description="for people", meta={"source": "made up"}),
            "",
            {
                "id": "c2",
                "repo": "repos/r",
                "base": "main",
                "head": "main",
                "golden": [
                    {
                        "path": "./a.py",
                        "line": 1,
                        "end_line": 2,
                        "description": "d",
                        "severity": "HIGH",
                    }
                ],
            },
        ],
    )
    dataset = load_dataset(tmp_path / "data")  # a directory means its cases.jsonl
    assert dataset.path == path
    assert dataset.name == "data"
    assert [(c.id, c.line) for c in dataset.cases] == [("c1", 1), ("c2", 3)]
    first, second = dataset.cases
    assert first.patch == path.resolve().parent / "change.patch"
    assert first.description == "for people"
    assert second.repo == path.resolve().parent / "repos/r"
    issue = second.golden[0]
    assert (issue.path, issue.line, issue.last_line, issue.severity) == ("a.py", 1, 2, "high")
    assert dataset.golden_count == 2
    assert [c.id for c in dataset.select(["c2"]).cases] == ["c2"]
    with pytest.raises(DatasetError, match="no case with id 'nope'"):
        dataset.select(["nope"])


def test_an_empty_golden_list_is_a_case_with_nothing_to_find(tmp_path: Path) -> None:
    dataset = load_dataset(write(tmp_path, [case(golden=[])]))
    assert dataset.cases[0].golden == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
        ("[1, 2]", "expected a JSON object, got list"),
        (case(golden=None), "golden: Input should be a valid list"),
        ({"id": "c1", "patch": "change.patch"}, "golden: Field required"),
        (case(id=""), "id: String should have at least 1 character"),
        (case(repo="r", base="a", head="b"), "give exactly one of 'repo'"),
        ({"id": "c1", "golden": []}, "give exactly one of 'repo'"),
        ({"id": "c1", "repo": "r", "base": "a", "golden": []}, "a 'repo' case needs 'head'"),
        (case(base="main"), "'base' belong to 'repo' cases"),
        (case(gold=[]), "gold: unknown field"),
        (case(golden=[{"path": "a.py", "line": 0, "description": "d"}]), "golden[0].line:"),
        (
            case(golden=[{"path": "a.py", "line": 5, "end_line": 4, "description": "d"}]),
            "golden[0]: end_line 4 is before line 5",
        ),
        (case(golden=[{"path": "a.py", "line": 1}]), "golden[0].description: Field required"),
        (
            case(golden=[{"path": "a.py", "line": 1, "description": "d", "severity": "meh"}]),
            "golden[0].severity: Input should be",
        ),
        (case(patch="missing.patch"), "cannot read patch"),
        (case(base_tree="nowhere"), "base_tree"),
    ],
)
def test_each_problem_is_reported_with_its_line_number(
    tmp_path: Path, line: Any, message: str
) -> None:
    path = write(tmp_path, [case(id="fine"), "", line])
    text = problems(path)
    assert f"{path}:3: " in text
    assert message in text


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, [case(), "oops", case(), case(id="c9", patch="x.patch")])
    text = problems(path)
    assert "has 3 problems" in text
    assert f"{path}:2: invalid JSON" in text
    assert f"{path}:3: duplicate id 'c1' (first used on line 1)" in text
    assert f"{path}:4: cannot read patch" in text


def test_a_patch_that_is_not_a_diff_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, [case(patch="notes.txt")])
    (tmp_path / "notes.txt").write_text("just some words\n")
    assert "holds no unified diff" in problems(path)


def test_missing_and_empty_datasets(tmp_path: Path) -> None:
    assert "does not exist" in problems(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert "no cases" in problems(empty)


def test_cli_exits_2_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, [case(), case(golden=[{"path": "a.py", "line": -1, "description": "d"}])]
    )
    assert main(["eval", str(path), "--runtime", "openai"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: golden[0].line: Input should be greater than or equal to 1" in err


def test_cli_exits_2_for_unknown_case_and_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, [case()])
    assert main(["eval", str(path), "--cases", "zzz"]) == 2
    assert "no case with id 'zzz'" in capsys.readouterr().err
    assert main(["eval", str(path), "--line-window", "-1"]) == 2
    assert "--line-window must be 0 or more" in capsys.readouterr().err
    assert main(["eval", str(path), "--judge", "gpt"]) == 2
    assert "--judge expects PROVIDER/MODEL" in capsys.readouterr().err


def test_repo_case_revisions_are_checked_before_any_model_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = make_repo(tmp_path / "data", "r")
    repo.write("a.py", "a\n")
    repo.commit("one")
    path = write(
        tmp_path / "data",
        [case(), {"id": "c2", "repo": "r", "base": "main", "head": "no-such-branch", "golden": []}],
    )
    # No runtime is configured at all: the dataset error comes first.
    assert main(["eval", str(path), "--dry-run"]) == 2
    assert "case 'c2' (line 2): head 'no-such-branch' is not a commit" in capsys.readouterr().err


def test_patch_that_does_not_apply_to_its_base_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path)
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "app.py").write_text("already here\n")
    path = write(tmp_path, [case(base_tree="base")])
    assert main(["eval", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "case 'c1' (line 1): patch" in err
    assert "does not apply to base_tree" in err
