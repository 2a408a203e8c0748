"""Review settings, resolved once at the entry point and passed down.

Precedence (first wins): CLI flags > ``COUNCIL_<KEY>`` environment variables >
``.council.toml`` or ``[tool.council]`` in the repository's pyproject.toml >
``$XDG_CONFIG_HOME/council/config.toml`` > defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator.choices import FILTER_MODES as FILTER_MODES  # re-exported
from coordinator.choices import FORMATS as FORMATS
from coordinator.choices import RUNTIMES as RUNTIMES
from coordinator.errors import ConfigError
from coordinator.review import FailOn


@dataclass(frozen=True)
class ReviewSettings:
    agents: tuple[str, ...] | None = None
    runtime: str | None = None
    model: str | None = None
    opencode_url: str | None = None
    fail_on: FailOn = FailOn.HIGH
    min_confidence: float = 0.0
    max_findings: int | None = None
    filter_mode: str = "diff_context"
    concurrency: int = 8
    timeout_s: float = 600.0
    budget_usd: float | None = None
    chunk_tokens: int = 24_000  # the most diff one session receives
    group_tokens: int = 2_000  # small files share a session up to this size
    output_format: str = "text"
    cache: bool = True
    verify: bool = False
    untrusted: bool = False  # the diff comes from someone who must not steer the review
    show_dismissed: bool = False  # keep findings listed in .council/dismissed.toml
    strict_hook: bool = False  # the pre-push hook blocks when it cannot review (else it warns)
    max_comments: int = 30  # inline comments per GitHub review; the rest go in its body


def _parse_agents(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("expected a comma-separated list of agent names")
    return tuple(str(v).strip() for v in items if str(v).strip())


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse


def _positive_int(value: object) -> int:
    number = int(str(value))
    if number < 1:
        raise ValueError("expected a whole number >= 1")
    return number


def _positive_float(value: object) -> float:
    number = float(str(value))
    if number <= 0:
        raise ValueError("expected a number > 0")
    return number


def _unit_float(value: object) -> float:
    number = float(str(value))
    if not 0.0 <= number <= 1.0:
        raise ValueError("expected a number from 0 to 1")
    return number


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _model(value: object) -> str:
    text = str(value).strip()
    if "/" not in text.strip("/"):
        raise ValueError("expected provider/model, e.g. anthropic/claude-sonnet-4-5")
    return text


# key -> parser; the key is also the env suffix (COUNCIL_FAIL_ON) and the TOML key.
_PARSERS: dict[str, Callable[[object], Any]] = {
    "agents": _parse_agents,
    "runtime": _choice(RUNTIMES),
    "model": _model,
    "opencode_url": lambda v: str(v).strip().rstrip("/"),
    "fail_on": lambda v: FailOn(str(v).strip().lower()),
    "min_confidence": _unit_float,
    "max_findings": _positive_int,
    "filter_mode": _choice(FILTER_MODES),
    "concurrency": _positive_int,
    "timeout_s": _positive_float,
    "budget_usd": _positive_float,
    "chunk_tokens": _positive_int,
    "group_tokens": _positive_int,
    "output_format": _choice(FORMATS),
    "cache": _bool,
    "verify": _bool,
    "untrusted": _bool,
    "show_dismissed": _bool,
    "strict_hook": _bool,
    "max_comments": _positive_int,
}

# Friendlier names accepted in files and the environment.
_ALIASES = {"filter": "filter_mode", "timeout": "timeout_s", "format": "output_format"}


_FLAG_NAMES = {v: k for k, v in _ALIASES.items()}


def _normalise_keys(raw: Mapping[str, Any], origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
        if name not in _PARSERS:
            known = ", ".join(sorted(_PARSERS))
            raise ConfigError(f"{origin}: unknown setting '{key}' (known: {known})")
        out[name] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def project_config(repo: Path | None) -> tuple[dict[str, Any], str]:
    if repo is None:
        return {}, ""
    dedicated = repo / ".council.toml"
    if dedicated.is_file():
        return _normalise_keys(_read_toml(dedicated), str(dedicated)), str(dedicated)
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("council", {})
        if section:
            origin = f"{pyproject} [tool.council]"
            return _normalise_keys(section, origin), origin
    return {}, ""


def user_config_path(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "council" / "config.toml"


def env_config(env: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for key in list(_PARSERS) + list(_ALIASES):
        value = env.get(f"COUNCIL_{key.upper()}")
        if value is not None and value != "":
            raw[_ALIASES.get(key, key)] = value
    return raw


def resolve_settings(
    cli: Mapping[str, Any],
    *,
    repo: Path | None,
    env: Mapping[str, str] | None = None,
) -> ReviewSettings:
    """Merge the layers and validate every value, naming where a bad one came from."""
    env = os.environ if env is None else env
    user_path = user_config_path(env)
    user = _normalise_keys(_read_toml(user_path), str(user_path)) if user_path.is_file() else {}
    project, project_origin = project_config(repo)
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("command line", {k: v for k, v in cli.items() if v is not None}),
        ("environment", env_config(env)),
        (project_origin or "project config", project),
        (str(user_path), user),
    ]
    values: dict[str, Any] = {}
    for key, parse in _PARSERS.items():
        for origin, layer in layers:
            if key in layer:
                try:
                    values[key] = parse(layer[key])
                except ValueError as exc:
                    flag = _FLAG_NAMES.get(key, key).replace("_", "-")
                    raise ConfigError(f"{origin}: invalid {flag} {layer[key]!r}: {exc}") from exc
                break
    return ReviewSettings(**values)
