"""Start-up: `council --help` and `council hook run` on a range reviewed before.

Each command runs ``--runs`` times as a fresh process, the way a shell or git
runs it: the interpreter running council's console-script entry point with this
checkout first on the path. The baseline, measured in the same run, is the bare
interpreter starting and exiting (``python -c pass``), which no change to council
can make faster. Also printed: the heavy packages each command loaded (there
should be none of textual, httpx, rich.markdown on these paths) and the top of
``python -X importtime`` for each.

The hook: a temporary repository with a bare remote; one commit is pushed through
``council hook run pre-push`` once (reviewed by the OpenAI runtime against the
test suite's scripted model server on loopback, so no network), then the same
push is timed again: it is answered from the review store.

    python -m bench.startup [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the `council` console script does (see [project.scripts] in pyproject.toml).
ENTRY = "import sys; from coordinator.cli import main; sys.exit(main())"
HEAVY = ("textual", "httpx", "rich", "rich.markdown", "pydantic", "yaml", "sqlite3")
# Run before the entry point: at exit, report which HEAVY packages were imported.
SHOW_MODULES = (
    "import atexit, json, sys; atexit.register(lambda: print('HEAVY-MODULES', "
    "json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr))"
)


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra or {})}
    env.pop("PYTHONDEVMODE", None)
    return env


def wall_times(
    argv: Sequence[str],
    runs: int,
    *,
    env: Mapping[str, str],
    cwd: Path = ROOT,
    stdin: str = "",
    expect: int = 0,
) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False
        )
        times.append(time.perf_counter() - started)
        if done.returncode != expect:
            raise SystemExit(f"{argv} exited {done.returncode}:\n{done.stderr}")
    return times


def loaded_heavy(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path = ROOT, stdin: str = ""
) -> list[str]:
    """Which heavy packages a run of council with ``args`` had imported when it exited."""
    marker = "HEAVY-MODULES"
    code = SHOW_MODULES.format(heavy=HEAVY) + "; " + ENTRY
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stderr.splitlines():
        if line.startswith(f"{marker} "):
            loaded: list[str] = json.loads(line[len(marker) + 1 :])
            return loaded
    raise SystemExit(f"no module list from {args}:\n{done.stderr}")


def import_profile(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path = ROOT, stdin: str = "", top: int = 8
) -> list[str]:
    """The slowest imports (cumulative) under the entry point, from ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    rows: list[tuple[int, int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        head, cumulative, name = line.split("|", 2)
        own = head.removeprefix("import time:").strip()
        if not own.isdigit():
            continue  # the column titles
        rows.append((int(cumulative), int(own), name[1:].rstrip()))
    # Top-level imports only (importtime indents nested ones), slowest first.
    roots = [r for r in rows if not r[2].startswith(" ")]
    roots.sort(reverse=True)
    total = sum(r[0] for r in roots)
    lines = [f"    total imported under the entry point: {total / 1000:6.1f} ms"]
    lines += [
        f"    {cum / 1000:6.1f} ms  (self {own / 1000:5.1f})  {name}"
        for cum, own, name in roots[:top]
    ]
    return lines


def summary(label: str, times: list[float], baseline: float, target: float | None) -> str:
    med, best = statistics.median(times), min(times)
    text = (
        f"{label:<34} median {med * 1000:6.1f} ms  min {best * 1000:6.1f} ms  "
        f"({med / baseline:.1f}x the bare interpreter, +{(med - baseline) * 1000:.1f} ms)"
    )
    if target is not None:
        text += f"   target < {target * 1000:.0f} ms"
    return text


# --------------------------------------------------------------------------- the hook


def git(cwd: Path, *args: str, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def hook_setup(tmp: Path, model_url: str) -> tuple[Path, dict[str, str], str]:
    """A repository with one unpushed commit, and the env and stdin its hook run gets."""
    env = environment(
        {
            "HOME": str(tmp / "home"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "OPENAI_BASE_URL": model_url,
            "OPENAI_API_KEY": "x",
            "COUNCIL_RUNTIME": "openai",
            "COUNCIL_MODEL": "openai/m",
            "PATH": os.environ.get("PATH", ""),
        }
    )
    remote, repo = tmp / "remote.git", tmp / "repo"
    git(tmp, "init", "-q", "--bare", str(remote), env=env)
    git(tmp, "init", "-q", "-b", "main", str(repo), env=env)
    for key, value in (("user.email", "bench@example.com"), ("user.name", "bench")):
        git(repo, "config", key, value, env=env)
    git(repo, "remote", "add", "origin", str(remote), env=env)
    (repo / "app").mkdir()
    (repo / "app" / "db.py").write_text(
        "import sqlite3\n\n\ndef connect(p):\n    return sqlite3.connect(p)\n"
    )
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "base", env=env)
    git(repo, "push", "-q", "--no-verify", "origin", "main", env=env)
    old = git(repo, "rev-parse", "HEAD", env=env)
    with (repo / "app" / "db.py").open("a") as fh:
        fh.write(
            "\n\ndef find(conn, name):\n    return conn.execute('SELECT * FROM u WHERE n = ' + name)\n"
        )
    git(repo, "commit", "-qam", "find", env=env)
    new = git(repo, "rev-parse", "HEAD", env=env)
    return repo, env, f"refs/heads/main {new} refs/heads/main {old}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    env = environment()
    council = [sys.executable, "-c", ENTRY]

    bare = statistics.median(wall_times([sys.executable, "-c", "pass"], args.runs, env=env))
    print(f"{'python -c pass (baseline)':<34} median {bare * 1000:6.1f} ms")
    for label, argv, target in (
        ("council --help", ["--help"], 0.150),
        ("council review --help", ["review", "--help"], None),
    ):
        times = wall_times([*council, *argv], args.runs, env=env)
        print(summary(label, times, bare, target))
        print(f"    heavy packages loaded: {loaded_heavy(argv, env=env) or 'none'}")
    print("  import-time profile of `council --help`:")
    print("\n".join(import_profile(["--help"], env=env)))

    try:
        import coordinator.integrations.hook  # noqa: F401
    except ImportError:
        print("council hook run: coordinator/integrations/hook.py does not exist yet; not measured")
        return
    sys.path.insert(0, str(ROOT))
    from tests.fakes.model_server import Reply, ScriptedModelServer

    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedModelServer(default=Reply.text('{"findings": []}')) as server,
    ):
        repo, hook_env, refs = hook_setup(Path(tmp), server.base_url + "/v1")
        hook = ["hook", "run", "pre-push", "origin", str(Path(tmp) / "remote.git")]
        first = wall_times([*council, *hook], 1, env=hook_env, cwd=repo, stdin=refs)
        requests = len(server.requests)
        times = wall_times(
            [*council, *hook], max(5, args.runs // 2), env=hook_env, cwd=repo, stdin=refs
        )
        if len(server.requests) != requests:
            raise SystemExit("the repeated hook run asked the model again: nothing was reused")
        print(
            f"council hook run, first review       {first[0] * 1000:6.1f} ms "
            f"({requests} model requests)"
        )
        print(summary("council hook run, reviewed before", times, bare, 1.0))
        heavy = loaded_heavy(hook, env=hook_env, cwd=repo, stdin=refs)
        print(f"    heavy packages loaded: {heavy or 'none'}")
        print("  import-time profile of the repeated `council hook run`:")
        print("\n".join(import_profile(hook, env=hook_env, cwd=repo, stdin=refs)))


if __name__ == "__main__":
    main()
