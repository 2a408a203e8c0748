"""action.yml, .pre-commit-hooks.yaml and the README workflow, against the official schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.fakes.github_api import SCHEMAS

ROOT = Path(__file__).resolve().parent.parent


def load_yaml(path: Path) -> Any:
    # GitHub reads "on:" as a key; PyYAML's YAML 1.1 would make it True. Irrelevant here.
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def schema(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return doc


def test_action_yml_is_valid_against_the_schemastore_schema() -> None:
    action_schema = schema("github-action.schema.json")
    assert action_schema["$schema"].startswith("http://json-schema.org/draft-07/")
    action = load_yaml(ROOT / "action.yml")
    jsonschema.Draft7Validator(action_schema).validate(action)
    assert action["runs"]["using"] == "composite"


def test_a_broken_action_yml_is_caught_by_the_same_check() -> None:
    action = load_yaml(ROOT / "action.yml")
    del action["outputs"]["findings"]["value"]  # composite outputs need a value
    errors = list(
        jsonschema.Draft7Validator(schema("github-action.schema.json")).iter_errors(action)
    )
    assert errors


def test_inputs_reach_scripts_only_through_env() -> None:
    action = load_yaml(ROOT / "action.yml")
    for step in action["runs"]["steps"]:
        script = step.get("run", "")
        assert "${{" not in script, f"expression interpolated into a script: {step.get('name')}"
    review = next(s for s in action["runs"]["steps"] if s.get("id") == "review")
    passed = " ".join(str(v) for v in review["env"].values())
    for name in action["inputs"]:
        if name in ("python-version", "install-opencode", "opencode-version", "working-directory"):
            continue  # used by other steps' `with`/`if`/env, not by council
        assert f"inputs.{name}" in passed, f"input {name} never reaches council"


def test_action_outputs_are_the_ones_council_writes() -> None:
    from coordinator.integrations import github_action

    source = Path(github_action.__file__).read_text()
    written = set(re.findall(r'"([a-z-]+)": ', source.split("def _write_outputs")[1]))
    written |= {"critical", "high", "medium", "low", "info"}  # one per severity
    action = load_yaml(ROOT / "action.yml")
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.review.outputs.{name} }}}}"
        assert name in written, f"output {name} is never written"


def test_pre_commit_hooks_manifest_is_valid() -> None:
    hooks_schema = schema("pre-commit-hooks.schema.json")
    assert hooks_schema["$schema"].startswith("http://json-schema.org/draft-07/")
    hooks = load_yaml(ROOT / ".pre-commit-hooks.yaml")
    jsonschema.Draft7Validator(hooks_schema).validate(hooks)
    (hook,) = hooks
    assert hook["stages"] == ["pre-push"]
    assert hook["entry"] == "council hook run pre-push"
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is True


def test_readme_workflow_example_has_the_documented_permissions_and_concurrency() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# \.github/workflows/council\.yml\n.*?)```", readme, re.S)
    assert block, "README has no workflow example"
    workflow = yaml.safe_load(block.group(1))
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key "on" as True
    assert workflow["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "security-events": "write",
    }
    assert "pull_request.number" in workflow["concurrency"]["group"]
    steps = workflow["jobs"]["review"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert any("upload-sarif" in s.get("uses", "") for s in steps)
