"""A fake GitHub REST API on loopback, strict where GitHub is strict.

    with FakeGitHub() as gh:
        gh.add_pull(7, base_sha=..., head_sha=..., patch=git_diff_text)
        env["GITHUB_API_URL"] = gh.url
        ...
        assert gh.violations == []
        assert len(gh.reviews) == 1

What it checks, as GitHub does:

- every request body against the official schemas saved in
  ``../shared/schemas/github_create_review_schema.json`` (create-review, and the
  related operations' bodies; issue comments by a hand-written ``{"body"}``
  schema); a body that fails is answered 422 and recorded in ``violations``;
  every review it returns is checked against the ``pull-request-review``
  response schema too;
- inline comments only on ``RIGHT`` lines inside a hunk of the PR's diff (its
  own hunk-header parse of the patch it was given, independent of council),
  a multi-line comment only within one hunk; otherwise 422 "Line could not be
  resolved", and nothing of that review is stored (reviews are atomic);
- ``commit_id`` must be the PR head; APPROVE from an Actions token is refused;
  bodies over 65,536 characters are refused;
- tokens: an unknown token gets 401, a read-only token (a fork PR's) 403 on
  writes; ``GET /user`` answers 403 for an Actions (bot) token, as GitHub does;
- ``Accept`` and ``X-GitHub-Api-Version`` headers must be sent;
- single review comments (``POST /pulls/{n}/comments``, body checked against
  the ``pulls/create-review-comment`` schema): a line comment is placed as in a
  review; ``subject_type: file`` takes no line and only a path in the PR's
  files, else 422 "Validation Failed" with ``pull_request_review_thread.path``
  (GitHub's wording for an unresolved line, by analogy); ``in_reply_to`` must
  name a top-level comment of the PR (GitHub has no replies to replies). Each
  creates a body-less ``COMMENTED`` review of its own, as GitHub does;
- review comments can be edited (``PATCH /pulls/comments/{id}``, ``{"body"}``)
  and deleted (``DELETE``, 204) by any token that may write, whoever wrote
  them: GitHub lets collaborators with write access do that, so it is for
  council, not the fake, to leave other people's comments alone.

It records requests and state (reviews, review comments with ``in_reply_to_id``
on replies and ``subject_type``, issue comments, ``deleted_comments``),
paginates with ``Link`` headers, and can be scripted with faults
(``fail_next``: a status with headers, e.g. a 429 with ``Retry-After``) and
with people's comments (``add_comment``, ``reply``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import jsonschema

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(os.environ.get("COUNCIL_TEST_SCHEMAS", REPO_ROOT.parent / "shared" / "schemas"))
BODY_LIMIT = 65_536
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ISSUE_COMMENT_SCHEMA = {
    "type": "object",
    "required": ["body"],
    "properties": {"body": {"type": "string"}},
    "additionalProperties": False,
}
# Not in the saved schemas; GitHub documents ``body`` as the one (required) field.
_EDIT_REVIEW_COMMENT_SCHEMA = _ISSUE_COMMENT_SCHEMA


def _load_schemas() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    doc = json.loads((SCHEMAS / "github_create_review_schema.json").read_text())
    create = doc["operation"]["requestBody"]["content"]["application/json"]["schema"]
    related = {
        name: op["requestBody_schema"]
        for name, op in doc["related_operations_same_source"].items()
        if isinstance(op.get("requestBody_schema"), dict)
    }
    # The response schema refers to "#/components/...": give it the components as its root.
    response = {
        **doc["components"]["schemas"]["pull-request-review"],
        "components": doc["components"],
    }
    return create, related, response


@dataclass
class Token:
    login: str
    type: str = "Bot"  # "Bot" for the Actions token, "User" for a personal token
    write: bool = True


@dataclass
class Pull:
    number: int
    base_sha: str
    head_sha: str
    patch: str  # the PR's unified diff (git diff base...head)
    head_repo: str | None = None

    def files(self) -> list[dict[str, Any]]:
        """``GET /pulls/{n}/files``: one entry per file, ``patch`` from the first hunk on."""
        out: list[dict[str, Any]] = []
        for section in re.split(r"(?m)^(?=diff --git )", self.patch):
            if not section.startswith("diff --git "):
                continue
            name = _new_path(section)
            if name is None:
                continue
            hunks = section[section.find("\n@@") + 1 :] if "\n@@" in section else ""
            status = "removed" if "\n+++ /dev/null" in section else "modified"
            if "\n--- /dev/null" in section:
                status = "added"
            out.append({"filename": name, "status": status, "patch": hunks or None})
        return out

    def commentable(self) -> dict[str, list[tuple[int, int]]]:
        """RIGHT-side line ranges of each hunk, from the hunk headers alone."""
        ranges: dict[str, list[tuple[int, int]]] = {}
        for item in self.files():
            if item["status"] == "removed" or not item["patch"]:
                continue
            for line in item["patch"].splitlines():
                match = _HUNK.match(line)
                if match and int(match.group(2) or "1") > 0:
                    start = int(match.group(1))
                    count = int(match.group(2) or "1")
                    ranges.setdefault(item["filename"], []).append((start, start + count - 1))
        return ranges

    def diff_hunk(self, path: str, line: int) -> str:
        """The hunk header and lines up to ``line``, as GitHub's ``diff_hunk`` shows them."""
        for item in self.files():
            if item["filename"] != path or not item["patch"]:
                continue
            hunk: list[str] = []
            new_line = 0
            for text in item["patch"].splitlines():
                match = _HUNK.match(text)
                if match:
                    hunk, new_line = [text], int(match.group(1))
                    continue
                hunk.append(text)
                if not text.startswith("-"):
                    if new_line == line:
                        return "\n".join(hunk)
                    new_line += 1
        return ""


def _new_path(section: str) -> str | None:
    for line in section.splitlines():
        if line.startswith("+++ b/"):
            return line[6:]
        if line.startswith("+++ /dev/null"):
            match = re.search(r"^--- a/(.*)$", section, re.MULTILINE)
            return match.group(1) if match else None
    match = re.match(r"diff --git a/(.*) b/(.*)$", section.splitlines()[0])
    return match.group(2) if match else None


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class FakeGitHub:
    owner: str = "acme"
    repo: str = "app"
    tokens: dict[str, Token] = field(
        default_factory=lambda: {
            "ghs_actions_token": Token("github-actions[bot]", "Bot", write=True),
            "ghs_fork_token": Token("github-actions[bot]", "Bot", write=False),
            "ghp_personal_token": Token("octo-dev", "User", write=True),
        }
    )
    pulls: dict[int, Pull] = field(default_factory=dict)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    issue_comments: list[dict[str, Any]] = field(default_factory=list)
    deleted_comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1001)
        self._clock = itertools.count(0)
        self._create, self._related, self._response = _load_schemas()
        self._create_comment = self._related["pulls/create-review-comment"]
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def __enter__(self) -> Self:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def repo_path(self) -> str:
        return f"/repos/{self.owner}/{self.repo}"

    # ---- scripting

    def add_pull(
        self, number: int, *, base_sha: str, head_sha: str, patch: str, head_repo: str | None = None
    ) -> Pull:
        pull = Pull(number, base_sha, head_sha, patch, head_repo or f"{self.owner}/{self.repo}")
        self.pulls[number] = pull
        return pull

    def push(self, number: int, *, head_sha: str, patch: str, outdated: Sequence[str] = ()) -> None:
        """A new head; comments on ``outdated`` paths lose their line, as GitHub marks them."""
        pull = self.pulls[number]
        pull.head_sha, pull.patch = head_sha, patch
        for comment in self.review_comments:
            if comment["path"] in outdated and comment.get("subject_type", "line") == "line":
                comment["line"] = None
                comment["position"] = None

    def add_comment(
        self,
        number: int,
        *,
        login: str,
        body: str,
        path: str,
        line: int | None = None,
        user_type: str = "User",
        in_reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A review comment someone wrote on GitHub (a file comment when ``line`` is None)."""
        pull = self.pulls[number]
        user = {"login": login, "id": 7_000 + len(login), "type": user_type}
        subject_type = "file" if line is None else "line"
        for parent in self.review_comments:
            if parent["id"] == in_reply_to:  # a reply sits where its thread does
                subject_type = parent.get("subject_type", "line")
        with self._lock:
            review_id = self._add_review(pull, user, "", "COMMENT", pull.head_sha)["id"]
            return self._add_review_comment(
                pull,
                review_id,
                user,
                {"body": body, "path": path, "line": line, "side": "RIGHT"},
                subject_type=subject_type,
                in_reply_to=in_reply_to,
            )

    def reply(self, comment_id: int, *, login: str, body: str) -> dict[str, Any]:
        """Someone answers a review comment in its thread."""
        parent = next(c for c in self.review_comments if c["id"] == comment_id)
        return self.add_comment(
            parent["pull"],
            login=login,
            body=body,
            path=parent["path"],
            line=parent["line"],
            in_reply_to=comment_id,
        )

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching (regex on the path) with ``status``."""
        payload = body if body is not None else {"message": f"scripted {status}"}
        self.faults.append(
            Fault(method, re.compile(path), status, payload, dict(headers or {}), times)
        )

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.search(pattern, c.path)]

    # ---- handling (called by the request handler thread, under the lock)

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        for fault in self.faults:
            if fault.times > 0 and fault.method == call.method and fault.path.search(call.path):
                fault.times -= 1
                return fault.status, fault.body, fault.headers
        if call.headers.get("accept") != "application/vnd.github+json":
            self.violations.append(
                f"{call.method} {call.path}: Accept is {call.headers.get('accept')!r}"
            )
        if "x-github-api-version" not in call.headers:
            self.violations.append(f"{call.method} {call.path}: no X-GitHub-Api-Version header")
        auth = call.headers.get("authorization", "")
        token = self.tokens.get(auth.removeprefix("Bearer ").removeprefix("token "))
        if token is None:
            return 401, _error("Bad credentials"), {}
        if call.method != "GET" and not token.write:
            return 403, _error("Resource not accessible by integration"), {}
        if call.path == "/user":
            if token.type == "Bot":
                return 403, _error("Resource not accessible by integration"), {}
            return 200, {"login": token.login, "id": 1, "type": token.type}, {}
        prefix = self.repo_path
        if not call.path.startswith(prefix + "/"):
            return 404, _error("Not Found"), {}
        return self._route(call, call.path[len(prefix) :], token)

    def _route(self, call: Call, rest: str, token: Token) -> tuple[int, Any, dict[str, str]]:
        m = re.fullmatch(r"/pulls/(\d+)/(comments|reviews|files)", rest)
        if m and int(m.group(1)) in self.pulls:
            pull = self.pulls[int(m.group(1))]
            kind = m.group(2)
            if call.method == "GET" and kind == "comments":
                return self._page(
                    call, [c for c in self.review_comments if c["pull"] == pull.number]
                )
            if call.method == "GET" and kind == "reviews":
                return self._page(call, [r for r in self.reviews if r["pull"] == pull.number])
            if call.method == "GET" and kind == "files":
                return self._page(call, pull.files())
            if call.method == "POST" and kind == "reviews":
                return self._create_review(call, pull, token)
            if call.method == "POST" and kind == "comments":
                return self._create_review_comment(call, pull, token)
        m = re.fullmatch(r"/pulls/comments/(\d+)", rest)
        if m and call.method in ("PATCH", "DELETE"):
            return self._change_review_comment(call, int(m.group(1)))
        m = re.fullmatch(r"/pulls/(\d+)/reviews/(\d+)/comments", rest)
        if m and call.method == "GET":
            review_id = int(m.group(2))
            return self._page(
                call, [c for c in self.review_comments if c["pull_request_review_id"] == review_id]
            )
        m = re.fullmatch(r"/issues/(\d+)/comments", rest)
        if m and int(m.group(1)) in self.pulls:
            number = int(m.group(1))
            if call.method == "GET":
                return self._page(call, [c for c in self.issue_comments if c["pull"] == number])
            if call.method == "POST":
                return self._create_issue_comment(call, number, token)
        m = re.fullmatch(r"/issues/comments/(\d+)", rest)
        if m and call.method == "PATCH":
            return self._edit_issue_comment(call, int(m.group(1)), token)
        return 404, _error(f"Not Found: {call.method} {rest}"), {}

    def _page(self, call: Call, items: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
        per_page = int(call.query.get("per_page", ["30"])[0])
        page = int(call.query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = {"prev": page - 1, "next": page + 1, "last": last, "first": 1}
        # GitHub's order and set: prev/next only where they exist, first/last off the ends.
        shown = [
            f'<{self.url}{call.path}?per_page={per_page}&page={target}>; rel="{rel}"'
            for rel, target in links.items()
            if (rel == "prev" and page > 1)
            or (rel == "next" and page < last)
            or (rel == "last" and page < last)
            or (rel == "first" and page > 1)
        ]
        headers = {"link": ", ".join(shown)} if shown else {}
        public = [_public(item) for item in chunk]
        return 200, public, headers

    def _invalid(self, call: Call, schema: dict[str, Any]) -> str | None:
        errors = sorted(
            jsonschema.Draft7Validator(schema).iter_errors(call.body), key=lambda e: e.path
        )
        if not errors:
            return None
        message = f"{call.method} {call.path}: " + "; ".join(e.message for e in errors)
        self.violations.append(message)
        return message

    def _user(self, token: Token) -> dict[str, Any]:
        return {"login": token.login, "id": 41898282, "type": token.type}

    def _create_review(
        self, call: Call, pull: Pull, token: Token
    ) -> tuple[int, Any, dict[str, str]]:
        invalid = self._invalid(call, self._create)
        if invalid:
            return 422, _error("Invalid request.", [invalid]), {}
        body: dict[str, Any] = call.body
        event = body.get("event")
        if event == "APPROVE" and token.type == "Bot":
            return (
                422,
                _error(
                    "Unprocessable Entity",
                    ["GitHub Actions is not permitted to approve pull requests."],
                ),
                {},
            )
        if event in ("COMMENT", "REQUEST_CHANGES") and not body.get("body"):
            return 422, _error("Unprocessable Entity", ["Body is required for this event"]), {}
        if body.get("commit_id", pull.head_sha) != pull.head_sha:
            return (
                422,
                _error("Unprocessable Entity", ["commit_id is not the head of the pull request"]),
                {},
            )
        texts = [body.get("body") or ""] + [c.get("body", "") for c in body.get("comments", [])]
        if any(len(t) > BODY_LIMIT for t in texts):
            return (
                422,
                _error("Unprocessable Entity", ["Body is too long (maximum is 65536 characters)"]),
                {},
            )
        ranges = pull.commentable()
        for comment in body.get("comments", []):
            problem = _placement_problem(comment, ranges.get(comment["path"], []))
            if problem:
                return 422, _error("Unprocessable Entity", [problem]), {}
        review = self._add_review(
            pull,
            self._user(token),
            body.get("body", ""),
            event,
            body.get("commit_id", pull.head_sha),
        )
        for comment in body.get("comments", []):
            self._add_review_comment(pull, review["id"], self._user(token), comment)
        return 200, _public(review), {}

    def _add_review(
        self, pull: Pull, user: dict[str, Any], body: str, event: str | None, commit_id: str
    ) -> dict[str, Any]:
        review_id = next(self._ids)
        review = {
            "id": review_id,
            "node_id": f"PRR_{review_id}",
            "user": user,
            "body": body,
            "state": "COMMENTED" if event == "COMMENT" else (event or "PENDING"),
            "html_url": f"{self._pull_html(pull)}#pullrequestreview-{review_id}",
            "pull_request_url": f"{self.url}{self.repo_path}/pulls/{pull.number}",
            "_links": {
                "html": {"href": self._pull_html(pull)},
                "pull_request": {"href": f"{self.url}{self.repo_path}/pulls/{pull.number}"},
            },
            "submitted_at": self._timestamp(),
            "commit_id": commit_id,
            "author_association": "NONE",
        }
        errors = list(jsonschema.Draft7Validator(self._response).iter_errors(review))
        assert not errors, f"the fake's own review response breaks the schema: {errors}"
        self.reviews.append({**review, "pull": pull.number, "event": event})
        return review

    def _add_review_comment(
        self,
        pull: Pull,
        review_id: int,
        user: dict[str, Any],
        request: dict[str, Any],
        *,
        subject_type: str = "line",
        in_reply_to: int | None = None,
    ) -> dict[str, Any]:
        """Store a review comment shaped like GitHub's ``pull-request-review-comment``."""
        comment_id = next(self._ids)
        on_file = subject_type == "file"
        line = None if on_file else request.get("line")
        start_line = None if on_file else request.get("start_line")
        now = self._timestamp()
        api_url = f"{self.url}{self.repo_path}/pulls/comments/{comment_id}"
        html_url = f"{self._pull_html(pull)}#discussion_r{comment_id}"
        comment: dict[str, Any] = {
            "url": api_url,
            "pull_request_review_id": review_id,
            "id": comment_id,
            "node_id": f"PRRC_{comment_id}",
            "diff_hunk": "" if line is None else pull.diff_hunk(request["path"], line),
            "path": request["path"],
            "position": None if line is None else 1,
            "original_position": None if line is None else 1,
            "commit_id": request.get("commit_id", pull.head_sha),
            "original_commit_id": request.get("commit_id", pull.head_sha),
            "user": user,
            "body": request["body"],
            "created_at": now,
            "updated_at": now,
            "html_url": html_url,
            "pull_request_url": f"{self.url}{self.repo_path}/pulls/{pull.number}",
            "author_association": "NONE",
            "_links": {
                "self": {"href": api_url},
                "html": {"href": html_url},
                "pull_request": {"href": f"{self.url}{self.repo_path}/pulls/{pull.number}"},
            },
            "start_line": start_line,
            "original_start_line": start_line,
            "start_side": None if start_line is None else request.get("start_side", "RIGHT"),
            "line": line,
            "original_line": line,
            "side": request.get("side", "RIGHT"),
            "subject_type": subject_type,
            "pull": pull.number,
        }
        if in_reply_to is not None:  # GitHub gives the field on replies only
            comment["in_reply_to_id"] = in_reply_to
        self.review_comments.append(comment)
        return comment

    def _create_review_comment(
        self, call: Call, pull: Pull, token: Token
    ) -> tuple[int, Any, dict[str, str]]:
        """``POST /pulls/{n}/comments``: a reply, a file comment, or a line comment."""
        invalid = self._invalid(call, self._create_comment)
        if invalid:
            return 422, _error("Invalid request.", [invalid]), {}
        body: dict[str, Any] = call.body
        if len(body["body"]) > BODY_LIMIT:
            return 422, _validation_failed("body", "is too long (maximum is 65536 characters)"), {}
        if body["commit_id"] != pull.head_sha:
            return 422, _validation_failed("commit_id", "is not part of the pull request"), {}
        reply_to = body.get("in_reply_to")
        subject_type = body.get("subject_type", "line")
        if reply_to is not None:
            parent = next(
                (
                    c
                    for c in self.review_comments
                    if c["id"] == reply_to and c["pull"] == pull.number
                ),
                None,
            )
            if parent is None or "in_reply_to_id" in parent:
                return 422, _validation_failed("in_reply_to", "is not a top-level comment"), {}
            request = {**body, "path": parent["path"], "line": parent["line"]}
            subject_type = parent.get("subject_type", "line")
        elif subject_type == "file":
            if any(k in body for k in ("line", "start_line", "position")):
                return 422, _validation_failed("line", "is not allowed on a file comment"), {}
            if body["path"] not in {f["filename"] for f in pull.files()}:
                return (
                    422,
                    _validation_failed("pull_request_review_thread.path", "could not be resolved"),
                    {},
                )
            request = body
        else:
            problem = _placement_problem(body, pull.commentable().get(body["path"], []))
            if problem:
                return 422, _validation_failed("pull_request_review_thread.line", problem), {}
            request = body
        user = self._user(token)
        review = self._add_review(pull, user, "", "COMMENT", pull.head_sha)
        comment = self._add_review_comment(
            pull, review["id"], user, request, subject_type=subject_type, in_reply_to=reply_to
        )
        return 201, _public(comment), {}

    def _change_review_comment(
        self, call: Call, comment_id: int
    ) -> tuple[int, Any, dict[str, str]]:
        """``PATCH`` (edit the body) or ``DELETE`` one review comment."""
        comment = next((c for c in self.review_comments if c["id"] == comment_id), None)
        if comment is None:
            return 404, _error("Not Found"), {}
        if call.method == "DELETE":
            self.review_comments.remove(comment)
            self.deleted_comments.append(comment)
            return 204, None, {}
        invalid = self._invalid(call, _EDIT_REVIEW_COMMENT_SCHEMA)
        if invalid:
            return 422, _error("Invalid request.", [invalid]), {}
        if len(call.body["body"]) > BODY_LIMIT:
            return 422, _validation_failed("body", "is too long (maximum is 65536 characters)"), {}
        comment["body"] = call.body["body"]
        comment["updated_at"] = self._timestamp()
        return 200, _public(comment), {}

    def _pull_html(self, pull: Pull) -> str:
        return f"https://github.test/{self.owner}/{self.repo}/pull/{pull.number}"

    def _timestamp(self) -> str:
        seconds = next(self._clock)
        return f"2024-01-01T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"

    def _create_issue_comment(
        self, call: Call, number: int, token: Token
    ) -> tuple[int, Any, dict[str, str]]:
        invalid = self._invalid(call, _ISSUE_COMMENT_SCHEMA)
        if invalid:
            return 422, _error("Invalid request.", [invalid]), {}
        if len(call.body["body"]) > BODY_LIMIT:
            return (
                422,
                _error("Validation Failed", ["Body is too long (maximum is 65536 characters)"]),
                {},
            )
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "user": self._user(token),
            "body": call.body["body"],
            "html_url": f"https://github.test/{self.owner}/{self.repo}/pull/{number}#issuecomment-{comment_id}",
            "pull": number,
        }
        self.issue_comments.append(comment)
        return 201, {k: v for k, v in comment.items() if k != "pull"}, {}

    def _edit_issue_comment(
        self, call: Call, comment_id: int, token: Token
    ) -> tuple[int, Any, dict[str, str]]:
        invalid = self._invalid(call, _ISSUE_COMMENT_SCHEMA)
        if invalid:
            return 422, _error("Invalid request.", [invalid]), {}
        for comment in self.issue_comments:
            if comment["id"] == comment_id:
                if comment["user"]["login"] != token.login:
                    return 403, _error("You cannot edit someone else's comment"), {}
                comment["body"] = call.body["body"]
                return 200, {k: v for k, v in comment.items() if k != "pull"}, {}
        return 404, _error("Not Found"), {}


def _placement_problem(comment: dict[str, Any], hunks: list[tuple[int, int]]) -> str | None:
    if "position" in comment and "line" in comment:
        return "position and line cannot be combined"
    line, start = comment.get("line"), comment.get("start_line")
    if line is None:
        return "Line could not be resolved"
    if comment.get("side", "RIGHT") != "RIGHT" or comment.get("start_side", "RIGHT") != "RIGHT":
        return "the fake knows only RIGHT-side lines"
    if start is not None and start >= line:
        return "Start line must precede the end line"
    first = line if start is None else start
    if not any(lo <= first and line <= hi for lo, hi in hunks):
        if any(lo <= line <= hi for lo, hi in hunks):
            return (
                "Pull request review thread start line must be part of the same hunk as the line."
            )
        return "Line could not be resolved"
    return None


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An object as the API shows it: without the fake's own bookkeeping."""
    return {k: v for k, v in item.items() if k not in ("pull", "event")}


def _validation_failed(field: str, message: str) -> dict[str, Any]:
    """The shape of a single-comment endpoint's 422 (objects in ``errors``, not strings)."""
    return {
        "message": "Validation Failed",
        "errors": [
            {
                "resource": "PullRequestReviewComment",
                "code": "custom",
                "field": field,
                "message": message,
            }
        ],
        "documentation_url": "https://docs.github.com/rest/pulls/comments#create-a-review-comment-for-a-pull-request",
        "status": "422",
    }


def _error(message: str, errors: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
    }
    if errors:
        out["errors"] = errors
        out["status"] = "422"
    return out


class _Server(ThreadingHTTPServer):
    fake: FakeGitHub
    daemon_threads = True
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        parts = urlsplit(self.path)
        call = Call(
            self.command,
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        fake = self.server.fake
        with fake._lock:
            status, payload, headers = fake.handle(call)
            call.status = status
            call.headers.pop("authorization", None)
            fake.calls.append(call)
        data = b"" if status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET
