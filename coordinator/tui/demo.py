"""A deterministic review in progress, for screenshots, snapshot tests and UI benchmarks.

Everything here is fixed data: a small diff, six reviewers in every state the live
view shows, and findings merged by the real merge stage (so ids and ranks are real).
"""

from __future__ import annotations

from pathlib import Path

from coordinator.diff import parse_unified_diff
from coordinator.diff.linemap import LineMap
from coordinator.diff.model import Diff
from coordinator.events import (
    Event,
    SessionFinished,
    SessionQueued,
    SessionRetrying,
    SessionStarted,
    TextDelta,
    ToolCalled,
    Usage,
    UsageUpdated,
)
from coordinator.findings import Finding, ReportedFinding, Severity
from coordinator.merge import MergeOptions, merge_findings
from coordinator.review import (
    DiffSummary,
    FailOn,
    Review,
    ReviewerReport,
    ReviewerStatus,
    summarise,
)
from coordinator.tui.run import FindingsUpdate, PlannedSession, RunOverview
from coordinator.tui.scripted import Finish, ScriptedReviewRun, ScriptItem, Tick

DEMO_PATCH = "".join(
    f"{line}\n"
    for line in (
        "diff --git a/app/db.py b/app/db.py",
        "--- a/app/db.py",
        "+++ b/app/db.py",
        "@@ -1,9 +1,12 @@",
        " import sqlite3",
        " ",
        " ",
        "-def find_user(conn, user_id):",
        '-    return conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()',
        "+def find_user(conn, name):",
        "+    query = f\"SELECT * FROM users WHERE name = '{name}'\"",
        "+    return conn.execute(query).fetchone()",
        " ",
        " ",
        "-def list_users(conn):",
        '-    return conn.execute("SELECT * FROM users").fetchall()',
        "+def list_users(conn, limit=None):",
        '+    rows = conn.execute("SELECT * FROM users").fetchall()',
        "+    users = [dict(r) for r in rows]",
        "+    return users[:limit] if limit else users",
        "diff --git a/app/api.py b/app/api.py",
        "--- a/app/api.py",
        "+++ b/app/api.py",
        "@@ -1,9 +1,13 @@",
        " from app.db import find_user, list_users",
        " ",
        " ",
        " def get_user(conn, request):",
        '-    return find_user(conn, request.args["id"])',
        '+    user = find_user(conn, request.args["name"])',
        "+    if user is None:",
        '+        return {"error": "not found"}, 404',
        "+    return user",
        " ",
        " ",
        " def all_users(conn, request):",
        "-    return list_users(conn)",
        '+    limit = int(request.args.get("limit"))',
        "+    return list_users(conn, limit)",
    )
)

DEMO_FILES = {
    "app/db.py": (
        "import sqlite3\n\n\ndef find_user(conn, name):\n"
        "    query = f\"SELECT * FROM users WHERE name = '{name}'\"\n"
        "    return conn.execute(query).fetchone()\n\n\n"
        "def list_users(conn, limit=None):\n"
        '    rows = conn.execute("SELECT * FROM users").fetchall()\n'
        "    users = [dict(r) for r in rows]\n"
        "    return users[:limit] if limit else users\n"
    ),
}

_SESSIONS = (
    ("security#1", "security", 0, 2, ("app/db.py",)),
    ("security#2", "security", 1, 2, ("app/api.py",)),
    ("correctness#1", "correctness", 0, 1, ("app/api.py", "app/db.py")),
    ("performance#1", "performance", 0, 1, ("app/api.py", "app/db.py")),
    ("tests#1", "tests", 0, 1, ("app/api.py", "app/db.py")),
    ("maintainability#1", "maintainability", 0, 1, ("app/api.py", "app/db.py")),
    ("guidelines#1", "guidelines", 0, 1, ("app/api.py", "app/db.py")),
)


def demo_diff() -> Diff:
    return Diff(files=parse_unified_diff(DEMO_PATCH), source="working tree vs HEAD")


def demo_overview(repo: Path) -> RunOverview:
    return RunOverview(
        repo=repo,
        source="working tree vs HEAD",
        diff=demo_diff(),
        sessions=tuple(
            PlannedSession(key, agent, "opencode", "anthropic/claude-sonnet-4-5", i, n, paths)
            for key, agent, i, n, paths in _SESSIONS
        ),
    )


def _finding(
    path: str, line: int, severity: Severity, category: str, title: str, **more: object
) -> Finding:
    fields: dict[str, object] = {
        "path": path,
        "line": line,
        "severity": severity,
        "category": category,
        "title": title,
        "confidence": 0.8,
    }
    fields.update(more)
    return Finding.model_validate(fields)


def demo_reported() -> list[ReportedFinding]:
    injection = "SQL query built with an f-string from request input"
    return [
        ReportedFinding(
            reviewer="security",
            finding=_finding(
                "app/db.py", 5, Severity.CRITICAL, "security", injection,
                body="`name` comes straight from `request.args`; a quote in it rewrites the "
                "query (`' OR '1'='1`). Use a parameterised query.",
                suggestion='    query = "SELECT * FROM users WHERE name = ?"\n'
                "    return conn.execute(query, (name,)).fetchone()",
                end_line=6, confidence=0.95,
                evidence="query = f\"SELECT * FROM users WHERE name = '{name}'\"",
            ),
        ),
        ReportedFinding(
            reviewer="correctness",
            finding=_finding(
                "app/db.py", 5, Severity.HIGH, "security",
                "User-controlled name interpolated into SQL query",
                body="Interpolating `name` lets a caller inject SQL.", confidence=0.85,
                evidence="query = f\"SELECT * FROM users WHERE name = '{name}'\"",
            ),
        ),
        ReportedFinding(
            reviewer="correctness",
            finding=_finding(
                "app/api.py", 12, Severity.HIGH, "correctness",
                "int(None) raises when the limit parameter is missing",
                body="`request.args.get('limit')` is `None` without the parameter, and "
                "`int(None)` raises `TypeError`: every call without `?limit=` fails.",
                suggestion='    limit = request.args.get("limit", type=int)', confidence=0.9,
            ),
        ),
        ReportedFinding(
            reviewer="performance",
            finding=_finding(
                "app/db.py", 10, Severity.MEDIUM, "performance",
                "Every row is fetched and copied before the limit is applied",
                body="Apply the limit in SQL (`LIMIT ?`) instead of slicing the whole table.",
                end_line=12, confidence=0.7,
            ),
        ),
        ReportedFinding(
            reviewer="security",
            finding=_finding(
                "app/api.py", 6, Severity.LOW, "security",
                "Lookup by name enumerates users",
                body="A 404 for unknown names tells callers which names exist.", confidence=0.5,
            ),
        ),
        ReportedFinding(
            reviewer="maintainability",
            finding=_finding(
                "app/api.py", 7, Severity.INFO, "maintainability",
                "Error responses are tuples here but plain dicts elsewhere",
                confidence=0.6,
            ),
        ),
    ]  # fmt: skip


def demo_findings(diff: Diff | None = None) -> FindingsUpdate:
    merged = merge_findings(demo_reported(), LineMap((diff or demo_diff()).files), MergeOptions())
    return FindingsUpdate(tuple(merged.findings), dict(merged.members))


def demo_review(diff: Diff | None = None) -> Review:
    diff = diff or demo_diff()
    update = demo_findings(diff)
    findings = list(update.findings)
    reviewers = [
        ReviewerReport(
            agent=agent, runtime="opencode", model="anthropic/claude-sonnet-4-5",
            status=ReviewerStatus.OK, sessions=1, duration_s=10.0, tokens_in=9000,
            tokens_out=800, cost_usd=0.03, findings=0,
        )
        for agent in dict.fromkeys(a for _, a, *_ in _SESSIONS)
    ]  # fmt: skip
    return Review(
        diff=DiffSummary(
            base=None,
            head=None,
            files=len(diff.files),
            additions=diff.additions,
            deletions=diff.deletions,
        ),
        reviewers=reviewers,
        findings=findings,
        rejected=[],
        unreviewed=[],
        summary=summarise(findings, FailOn.HIGH),
    )


def _queued(key: str) -> SessionQueued:
    _, agent, i, n, paths = next(s for s in _SESSIONS if s[0] == key)
    return SessionQueued(key, agent, "opencode", i, n, paths)


def _tool(key: str, tool: str, target: str, n: int) -> ToolCalled:
    return ToolCalled(key, key.split("#")[0], tool, target, "completed", f"{key}-{n}")


def demo_script() -> list[ScriptItem]:
    """The run part-way: done, cached, running, retrying, failed and queued sessions."""
    items: list[ScriptItem] = [_queued(s[0]) for s in _SESSIONS]
    started = ("security#1", "security#2", "correctness#1", "performance#1", "tests#1")
    for key in started:
        items.append(SessionStarted(key, key.split("#")[0], f"ses_{key}"))
        items.append(Tick(1.5))
    items += [
        SessionFinished("guidelines#1", "guidelines", ReviewerStatus.CACHED, 0, Usage(), 0.0),
        _tool("security#1", "read", "app/db.py", 1),
        _tool("security#1", "grep", "execute\\(", 2),
        TextDelta("security#1", "security", "The new find_user builds SQL with an f-string.\n"),
        UsageUpdated("security#1", "security", Usage(12_400, 610, 0.0466)),
        Tick(4.0),
        SessionFinished(
            "security#1", "security", ReviewerStatus.OK, 1, Usage(12_400, 910, 0.0509), 9.5
        ),
        *(_tool("correctness#1", t, p, n) for n, (t, p) in enumerate(
            [("read", "app/api.py"), ("read", "app/db.py"), ("grep", "list_users")]
        )),
        TextDelta(
            "correctness#1", "correctness",
            "Checking callers of list_users for the new limit argument…\n"
            "request.args.get('limit') may be None; int(None) raises TypeError.\n",
        ),
        UsageUpdated("correctness#1", "correctness", Usage(15_100, 1_240, 0.0639)),
        _tool("security#2", "read", "app/api.py", 1),
        UsageUpdated("security#2", "security", Usage(6_050, 120, 0.0200)),
        SessionRetrying(
            "performance#1", "performance", 1, "HTTP 429: rate limited by the provider", 4.0
        ),
        UsageUpdated("tests#1", "tests", Usage(8_200, 300, 0.0291)),
        SessionFinished(
            "tests#1", "tests", ReviewerStatus.FAILED, 0, Usage(8_200, 300, 0.0291), 6.2,
            "invalid output after one repair turn: findings.0.line: Input should be >= 1",
        ),
        Tick(2.0),
        demo_findings(),
    ]  # fmt: skip
    return items


def demo_run(repo: Path) -> ScriptedReviewRun:
    run = ScriptedReviewRun(demo_overview(repo), demo_review(), files=DEMO_FILES)
    run.feed(*demo_script())
    return run


def demo_events() -> list[Event]:
    """The script's events alone (no clock ticks or findings)."""
    return [i for i in demo_script() if not isinstance(i, Tick | Finish | FindingsUpdate)]
