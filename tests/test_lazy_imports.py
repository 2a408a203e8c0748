"""Fast paths import only what they use: no textual, httpx or rich.markdown where not needed.

Each check runs council in a fresh interpreter (the module cache of this test
process proves nothing) and reads back which heavy packages it had imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from coordinator.choices import FAIL_ON, RUNTIMES
from coordinator.review import FailOn
from coordinator.runtimes.registry import RUNTIME_FACTORIES
from tests.fakes.model_server import Reply, ScriptedModelServer
from tests.gitrepo import make_repo

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("textual", "httpx", "rich", "rich.markdown", "pydantic", "yaml")
# Runs council's console-script entry point, then prints the heavy packages it loaded.
PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print('LOADED', json.dumps(sorted(\n"
    "    m for m in {heavy!r} if m in sys.modules)), file=sys.stderr))\n"
    "from coordinator.cli import main\n"
    "sys.exit(main())\n"
)


def loaded_by(
    args: Sequence[str],
    *,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    stdin: str = "",
    code: str = PROBE,
) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    done = subprocess.run(
        [sys.executable, "-c", code.format(heavy=HEAVY), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for line in done.stderr.splitlines():
        if line.startswith("LOADED "):
            loaded: list[str] = json.loads(line.removeprefix("LOADED "))
            return loaded, done
    raise AssertionError(f"no module report from council {list(args)}:\n{done.stderr}")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["review", "--help"],
        ["tui", "--help"],
        ["hook", "run", "--help"],
        ["agents", "--help"],
    ],
)
def test_help_loads_no_heavy_package(args: list[str]) -> None:
    """Argument parsing needs none of them: not even pydantic or yaml."""
    loaded, done = loaded_by(args)
    assert done.returncode == 0, done.stderr
    assert "usage: council" in done.stdout
    assert loaded == []


def test_agents_list_reads_yaml_but_loads_no_front_end_or_http() -> None:
    loaded, done = loaded_by(["agents", "list"])
    assert done.returncode == 0, done.stderr
    assert "yaml" in loaded
    assert not {"textual", "httpx", "rich", "rich.markdown"} & set(loaded)


def test_the_runtime_registry_imports_no_runtime() -> None:
    code = (
        "import json, sys\n"
        "import coordinator.runtimes.registry, coordinator.runner\n"
        "print('LOADED', json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)),"
        " file=sys.stderr)\n"
    )
    loaded, done = loaded_by([], code=code)
    assert done.returncode == 0, done.stderr
    assert "httpx" not in loaded
    assert "textual" not in loaded


def test_hook_run_on_a_reviewed_range_loads_no_tui_http_or_markdown(tmp_path: Path) -> None:
    """The second push of the same commits is answered from the review store."""
    repo = make_repo(tmp_path)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    repo.write("app/db.py", "import sqlite3\n")
    old = repo.commit("base")
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "--no-verify", "origin", "HEAD:refs/heads/main")
    repo.write("app/db.py", "import sqlite3\n\n\ndef connect(p):\n    return sqlite3.connect(p)\n")
    new = repo.commit("connect")
    refs = f"refs/heads/main {new} refs/heads/main {old}\n"
    hook = ["hook", "run", "pre-push", "origin", str(remote)]
    with ScriptedModelServer(default=Reply.text('{"findings": []}')) as server:
        env = {
            "HOME": str(tmp_path / "home"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "OPENAI_BASE_URL": server.base_url + "/v1",
            "OPENAI_API_KEY": "x",
            "COUNCIL_RUNTIME": "openai",
            "COUNCIL_MODEL": "openai/m",
        }
        first, done = loaded_by(hook, cwd=repo.root, env=env, stdin=refs)
        assert done.returncode == 0, done.stderr
        assert "httpx" in first  # the first review really ran a runtime
        requests = len(server.requests)
        again, done = loaded_by(hook, cwd=repo.root, env=env, stdin=refs)
        assert done.returncode == 0, done.stderr
        assert "reusing the stored review" in done.stderr
        assert len(server.requests) == requests
    assert not {"textual", "httpx", "rich.markdown"} & set(again)


def test_the_parser_constants_match_their_typed_forms() -> None:
    assert tuple(f.value for f in FailOn) == FAIL_ON
    assert set(RUNTIMES) == set(RUNTIME_FACTORIES)
