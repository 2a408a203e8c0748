"""The labelled dataset ``council eval`` reads: JSONL, one case per line.

A case is a change to review and the issues a good review of it should raise::

    {"id": "users-search",
     "patch": "cases/users-search/change.patch",
     "base_tree": "cases/users-search/base",
     "golden": [{"path": "app/users.py", "line": 42, "end_line": 43,
                 "description": "the search term is formatted into the SQL text",
                 "severity": "critical"}]}
    {"id": "flask-4041", "repo": "repos/flask", "base": "a1b2c3d", "head": "fix-4041",
     "golden": [...]}

Fields (unknown keys are errors, so a typo cannot silently drop a label):

- ``id`` (required): unique, non-empty.
- Exactly one source of the change:
  - ``repo``: a git repository (path); ``base`` and ``head`` (required): revisions
    in it. The review covers ``base..head``, in a private checkout of ``head``.
  - ``patch``: a unified diff file (``git diff`` output). With ``base_tree``, a
    directory holding the files *before* the change, the case is materialised as
    a two-commit repository (the tree, then the patch applied), so reviewers with
    repository tools see whole files; without it only the patch is reviewed.
- ``golden`` (required, may be empty for a change with nothing to find): issues
  with ``path`` (as in the diff's new side), ``line`` and optional ``end_line``
  (new-file line numbers, 1-based), ``description`` (what is wrong, for people
  and for ``--judge``) and optional ``severity``.
- ``description`` (optional): what the change does or what it tests, for people.
  It never reaches a reviewer.
- ``meta`` (optional): any JSON object, kept for the dataset's own bookkeeping
  (where a case came from, its licence, tags).

Paths are relative to the dataset file unless absolute. Blank lines are skipped.
Every problem is reported with its line number (``cases.jsonl:7: golden[0].line:
...``); the loader reports them all at once, not just the first. DATASET may also
name a directory holding ``cases.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from coordinator.diff.parse import DiffParseError, parse_unified_diff
from coordinator.errors import ConfigError
from coordinator.findings import Severity

DEFAULT_FILE_NAME = "cases.jsonl"
MAX_REPORTED_PROBLEMS = 20


class DatasetError(ConfigError):
    """The dataset cannot be used as it is; the message names every line at fault."""


class GoldenIssue(BaseModel):
    """One issue a review of the case should raise."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    path: str = Field(min_length=1)
    line: int = Field(ge=1)
    end_line: int | None = Field(default=None, ge=1)
    description: str = Field(min_length=1)
    severity: Severity | None = None

    @field_validator("path")
    @classmethod
    def _normalise_path(cls, value: str) -> str:
        while value.startswith("./"):
            value = value[2:]
        return value

    @field_validator("severity", mode="before")
    @classmethod
    def _lower_severity(cls, value: object) -> object:
        return value.lower().strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _range_is_ordered(self) -> GoldenIssue:
        if self.end_line is not None and self.end_line < self.line:
            raise ValueError(f"end_line {self.end_line} is before line {self.line}")
        return self

    @property
    def last_line(self) -> int:
        return self.end_line if self.end_line is not None else self.line


class _CaseLine(BaseModel):
    """One JSONL line exactly as written; paths still relative."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    repo: str | None = Field(default=None, min_length=1)
    base: str | None = Field(default=None, min_length=1)
    head: str | None = Field(default=None, min_length=1)
    patch: str | None = Field(default=None, min_length=1)
    base_tree: str | None = Field(default=None, min_length=1)
    golden: list[GoldenIssue]
    description: str | None = None
    meta: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> _CaseLine:
        if (self.repo is None) == (self.patch is None):
            raise ValueError("give exactly one of 'repo' (with 'base' and 'head') or 'patch'")
        if self.repo is not None:
            missing = [k for k in ("base", "head") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a 'repo' case needs {' and '.join(repr(k) for k in missing)}")
            if self.base_tree is not None:
                raise ValueError("'base_tree' belongs to 'patch' cases; a 'repo' has its own tree")
        else:
            given = [k for k in ("base", "head") if getattr(self, k) is not None]
            if given:
                raise ValueError(
                    f"{' and '.join(repr(k) for k in given)} belong to 'repo' cases; "
                    "a 'patch' case says what changed by itself"
                )
        return self


@dataclass(frozen=True)
class EvalCase:
    """One case with its paths resolved; ``line`` is where it sits in the dataset file."""

    id: str
    line: int
    golden: tuple[GoldenIssue, ...]
    repo: Path | None = None
    base: str | None = None
    head: str | None = None
    patch: Path | None = None
    base_tree: Path | None = None
    description: str | None = None

    @property
    def where(self) -> str:
        return f"case {self.id!r} (line {self.line})"


@dataclass(frozen=True)
class Dataset:
    path: Path
    cases: tuple[EvalCase, ...]

    @property
    def name(self) -> str:
        """The folder's name for ``<name>/cases.jsonl``, else the file's stem."""
        if self.path.name == DEFAULT_FILE_NAME and self.path.parent.name:
            return self.path.parent.name
        return self.path.stem

    @property
    def golden_count(self) -> int:
        return sum(len(c.golden) for c in self.cases)

    def select(self, ids: Sequence[str] | None) -> Dataset:
        """Only the cases named in ``ids`` (in dataset order); unknown ids are an error."""
        if not ids:
            return self
        known = {c.id for c in self.cases}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise DatasetError(
                f"{self.path}: no case with id {', '.join(repr(i) for i in unknown)}"
                f" (the dataset has {len(self.cases)} cases)"
            )
        wanted = set(ids)
        return Dataset(self.path, tuple(c for c in self.cases if c.id in wanted))


def dataset_file(path: Path) -> Path:
    """DATASET as given: a JSONL file, or a directory holding ``cases.jsonl``."""
    return path / DEFAULT_FILE_NAME if path.is_dir() else path


def load_dataset(path: Path) -> Dataset:
    """Read and check a dataset; raise DatasetError listing every problem found."""
    file = dataset_file(path)
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DatasetError(f"dataset {file} does not exist") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(f"cannot read dataset {file}: {exc.strerror}") from None
    return parse_dataset(text.removeprefix("\ufeff"), file)


def parse_dataset(text: str, file: Path) -> Dataset:
    root = file.resolve().parent  # git runs elsewhere: case paths must not depend on the cwd
    problems: list[str] = []
    cases: list[EvalCase] = []
    first_line_of: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{file}:{number}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a JSON object, got {type(value).__name__}")
            continue
        try:
            spec = _CaseLine.model_validate(value)
        except ValidationError as exc:
            problems.extend(f"{where}: {message}" for message in _validation_messages(exc))
            continue
        if spec.id in first_line_of:
            problems.append(
                f"{where}: duplicate id {spec.id!r} (first used on line {first_line_of[spec.id]})"
            )
            continue
        first_line_of[spec.id] = number
        case = _resolve(spec, number, root)
        found = _file_problems(case)
        problems.extend(f"{where}: {message}" for message in found)
        if not found:
            cases.append(case)
    if problems:
        raise DatasetError(_summary(file, problems))
    if not cases:
        raise DatasetError(f"{file}: no cases (expected one JSON object per line)")
    return Dataset(file, tuple(cases))


def _resolve(spec: _CaseLine, line: int, root: Path) -> EvalCase:
    def at(value: str | None) -> Path | None:
        return None if value is None else (root / value)

    return EvalCase(
        id=spec.id,
        line=line,
        golden=tuple(spec.golden),
        repo=at(spec.repo),
        base=spec.base,
        head=spec.head,
        patch=at(spec.patch),
        base_tree=at(spec.base_tree),
        description=spec.description,
    )


def _file_problems(case: EvalCase) -> list[str]:
    """What the file system says about the paths a case names (git is asked later)."""
    problems: list[str] = []
    if case.repo is not None and not case.repo.is_dir():
        problems.append(f"repo {case.repo} is not a directory")
    if case.base_tree is not None and not case.base_tree.is_dir():
        problems.append(f"base_tree {case.base_tree} is not a directory")
    if case.patch is not None:
        try:
            text = case.patch.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            problems.append(f"cannot read patch {case.patch}: {exc.strerror}")
        else:
            try:
                files = parse_unified_diff(text.removeprefix("\ufeff"))
            except DiffParseError as exc:
                problems.append(f"patch {case.patch} is not a valid unified diff: {exc}")
            else:
                if not files:
                    problems.append(f"patch {case.patch} holds no unified diff")
    return problems


def _validation_messages(exc: ValidationError) -> Iterable[str]:
    for error in exc.errors(include_url=False):
        location = _location(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        yield f"{location}: {message}" if location else message


def _location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _summary(file: Path, problems: list[str]) -> str:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    more = len(problems) - len(shown)
    head = f"dataset {file} has {len(problems)} problem{'s' if len(problems) != 1 else ''}:"
    tail = [f"  ... and {more} more"] if more else []
    return "\n".join([head, *(f"  {p}" for p in shown), *tail])
