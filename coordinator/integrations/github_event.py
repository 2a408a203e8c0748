"""The pull request an Actions job runs for, read from the runner's environment.

``GITHUB_EVENT_PATH`` (the webhook payload), ``GITHUB_REPOSITORY``,
``GITHUB_TOKEN`` (or ``GH_TOKEN``), ``GITHUB_API_URL`` and ``GITHUB_SERVER_URL``
(GitHub Enterprise Server works), ``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``.
Everything missing or wrong is a configuration error (exit 2) whose message
says what to put in the workflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator.errors import ConfigError
from coordinator.integrations.github import DEFAULT_API_URL

PR_EVENTS = ("pull_request", "pull_request_target")
_TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")


@dataclass(frozen=True)
class PullRequest:
    owner: str
    repo: str
    number: int
    base_sha: str
    head_sha: str
    base_repo: str  # owner/name
    head_repo: str | None  # None when the fork was deleted
    event_name: str
    draft: bool = False

    @property
    def is_fork(self) -> bool:
        return self.head_repo != self.base_repo

    @property
    def path(self) -> str:
        """``/repos/{owner}/{repo}``: the prefix of every API path for this PR."""
        return f"/repos/{self.owner}/{self.repo}"


@dataclass(frozen=True)
class ActionsContext:
    pull: PullRequest
    token: str
    api_url: str
    server_url: str
    step_summary: Path | None
    output: Path | None
    run_url: str | None
    in_actions: bool  # GITHUB_ACTIONS=true: workflow commands are read from our output


def _sha(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) not in (40, 64):
        raise ConfigError(f"the event payload has no valid {what} (got {value!r})")
    return value


def load_event(path: Path, event_name: str) -> PullRequest:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read GITHUB_EVENT_PATH {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"GITHUB_EVENT_PATH {path} is not JSON: {exc}") from exc
    pr = payload.get("pull_request") if isinstance(payload, dict) else None
    if event_name not in PR_EVENTS or not isinstance(pr, dict):
        raise ConfigError(
            f"--github reviews pull requests, but this job runs for the '{event_name or '?'}' "
            "event. Trigger the workflow with 'on: pull_request'."
        )
    base, head = pr.get("base") or {}, pr.get("head") or {}
    base_repo = (base.get("repo") or {}).get("full_name")
    head_repo = (head.get("repo") or {}).get("full_name")
    if not isinstance(base_repo, str) or "/" not in base_repo:
        raise ConfigError("the event payload names no base repository (pull_request.base.repo)")
    number = pr.get("number") or payload.get("number")
    if not isinstance(number, int):
        raise ConfigError("the event payload has no pull request number")
    owner, repo = base_repo.split("/", 1)
    return PullRequest(
        owner=owner,
        repo=repo,
        number=number,
        base_sha=_sha(base.get("sha"), "pull_request.base.sha"),
        head_sha=_sha(head.get("sha"), "pull_request.head.sha"),
        base_repo=base_repo,
        head_repo=head_repo if isinstance(head_repo, str) else None,
        event_name=event_name,
        draft=bool(pr.get("draft")),
    )


def load_context(env: Mapping[str, str]) -> ActionsContext:
    event_path = env.get("GITHUB_EVENT_PATH")
    if not event_path:
        raise ConfigError("--github runs inside a GitHub Actions job: GITHUB_EVENT_PATH is not set")
    pull = load_event(Path(event_path), env.get("GITHUB_EVENT_NAME", "pull_request"))
    repository = env.get("GITHUB_REPOSITORY")
    if repository and repository.lower() != pull.base_repo.lower():
        raise ConfigError(
            f"GITHUB_REPOSITORY is {repository} but the pull request belongs to {pull.base_repo}"
        )
    token = next((env[v] for v in _TOKEN_VARIABLES if env.get(v)), "")
    if not token:
        raise ConfigError(
            "GITHUB_TOKEN is not set, so council cannot post the review. In the workflow, give "
            "the step 'env: GITHUB_TOKEN: ${{ github.token }}' (the council action does this) "
            "and the job 'permissions: pull-requests: write'."
        )
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    run_id = env.get("GITHUB_RUN_ID")
    return ActionsContext(
        pull=pull,
        token=token,
        api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
        server_url=server,
        step_summary=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
        output=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
        run_url=f"{server}/{pull.base_repo}/actions/runs/{run_id}" if run_id else None,
        in_actions=env.get("GITHUB_ACTIONS") == "true",
    )
