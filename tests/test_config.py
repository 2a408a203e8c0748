from pathlib import Path

import pytest

from coordinator.config import resolve_settings
from coordinator.errors import ConfigError
from coordinator.review import FailOn


def test_defaults(tmp_path: Path) -> None:
    s = resolve_settings({}, repo=tmp_path, env={"HOME": str(tmp_path)})
    assert s.fail_on is FailOn.HIGH
    assert s.filter_mode == "diff_context"
    assert s.agents is None


def test_precedence_cli_over_env_over_project_over_user(tmp_path: Path) -> None:
    user = tmp_path / "xdg" / "council"
    user.mkdir(parents=True)
    (user / "config.toml").write_text(
        'model = "u/m"\nconcurrency = 2\nfail_on = "low"\ntimeout = 5\n'
    )
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text('[tool.council]\nmodel = "p/m"\nconcurrency = 3\n')
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "COUNCIL_MODEL": "e/m",
        "COUNCIL_FAIL_ON": "medium",
    }
    s = resolve_settings({"model": "c/m", "fail_on": None}, repo=repo, env=env)
    assert s.model == "c/m"  # CLI
    assert s.fail_on is FailOn.MEDIUM  # env
    assert s.concurrency == 3  # project
    assert s.timeout_s == 5.0  # user, via the 'timeout' alias


def test_dedicated_file_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / ".council.toml").write_text('agents = ["security", "tests"]\n')
    (tmp_path / "pyproject.toml").write_text('[tool.council]\nagents = "correctness"\n')
    s = resolve_settings({}, repo=tmp_path, env={"HOME": str(tmp_path)})
    assert s.agents == ("security", "tests")


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"model": "no-slash"}, "invalid model 'no-slash'"),
        ({"min_confidence": 1.5}, "invalid min-confidence"),
        ({"concurrency": 0}, "invalid concurrency"),
        ({"filter_mode": "everything"}, "invalid filter"),
    ],
)
def test_bad_values_name_their_origin(tmp_path: Path, cli: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        resolve_settings(cli, repo=tmp_path, env={"HOME": str(tmp_path)})
    assert str(info.value).startswith("command line:")


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".council.toml").write_text("modle = 'x/y'\n")
    with pytest.raises(ConfigError, match="unknown setting 'modle'"):
        resolve_settings({}, repo=tmp_path, env={"HOME": str(tmp_path)})


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    (tmp_path / ".council.toml").write_text("model = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        resolve_settings({}, repo=tmp_path, env={"HOME": str(tmp_path)})
