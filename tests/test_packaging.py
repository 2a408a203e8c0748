"""A wheel built from the repo, installed in a new virtual environment, finds its data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_ships_agents_and_prompts_and_runs_elsewhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # No build isolation: the build backend (hatchling) comes from the test extras, no download.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("review_council-*.whl")
    venv = tmp_path / "venv"
    # Dependencies come from this interpreter's site-packages; the package itself from the wheel.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [
            str(py),
            "-c",
            "import coordinator, coordinator.resources as r; print(coordinator.__file__); print(r.builtin_agents_dir()); print(r.prompts_dir())",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert all(line.startswith(str(venv)) for line in where), where
    listed = subprocess.run(
        [str(venv / "bin" / "council"), "agents", "list"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in (
        "correctness",
        "security",
        "performance",
        "tests",
        "maintainability",
        "guidelines",
        "verifier",
    ):
        assert f"{name} " in listed
    assert (Path(where[2]) / "review.md").is_file()
