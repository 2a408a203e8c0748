""".council/dismissed.toml: the file itself, and dismissed findings leaving later reviews."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from coordinator.config import resolve_settings
from coordinator.dismissals import (
    Dismissal,
    Dismissals,
    apply_dismissals,
    dismiss,
    dismissal_reasons,
    load_dismissals,
    render_dismissals,
    restore,
    save_dismissals,
)
from coordinator.errors import ConfigError
from coordinator.findings import Finding
from coordinator.pipeline import PreparedReview, assemble_review
from coordinator.review import Review, ReviewerStatus
from coordinator.session import AssignmentOutcome
from coordinator.tui.demo import demo_findings
from tests.gitrepo import GitRepo
from tests.tui_support import SETTINGS, changed_repo, finding, prepare

TODAY = dt.date(2024, 5, 1)


def test_dismiss_then_restore_round_trips_through_the_file(tmp_path: Path) -> None:
    first, second = demo_findings().findings[:2]
    dismiss(tmp_path, second, "  handled   by the caller ", today=TODAY)
    dismiss(tmp_path, first, "", today=TODAY)
    text = (tmp_path / ".council" / "dismissed.toml").read_text()
    assert text.startswith("# Findings dismissed in council's review browser")
    data = tomllib.loads(text)
    # Sorted by path then title, so concurrent dismissals merge cleanly.
    assert [d["path"] for d in data["dismissed"]] == ["app/api.py", "app/db.py"]
    assert data["dismissed"][0] == {
        "fingerprint": second.id,
        "title": second.title,
        "path": "app/api.py",
        "reason": "handled by the caller",
        "date": TODAY,
    }
    loaded = load_dismissals(tmp_path)
    assert set(loaded.entries) == {first.id, second.id}
    assert restore(tmp_path, first.id).entries.keys() == {second.id}
    assert load_dismissals(tmp_path).entries.keys() == {second.id}


def test_awkward_text_survives_the_writer(tmp_path: Path) -> None:
    title = 'Quote " backslash \\ tab \t newline \n bell \x07 — ünïcode'
    entry = Dismissal("abc", title, "dir/ä b.py", 'reason with "quotes"', TODAY)
    save_dismissals(tmp_path, Dismissals({"abc": entry}))
    assert load_dismissals(tmp_path).get("abc") == entry
    assert (
        tomllib.loads(render_dismissals(Dismissals({"abc": entry})))["dismissed"][0]["title"]
        == title
    )


def test_no_file_means_nothing_dismissed(tmp_path: Path) -> None:
    assert len(load_dismissals(tmp_path)) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[dismissed]\n", "invalid TOML"),
        ("dismissed = 3\n", "array of tables"),
        ('[[dismissed]]\ntitle = "x"\n', "entry 1 has no fingerprint"),
        ('[[dismissed]]\nfingerprint = "a"\ndate = "May"\n', "date must be a TOML date"),
        ('[[dismissed]]\nfingerprint = "a"\nreason = 3\n', "reason must be a string"),
    ],
)
def test_a_broken_file_is_an_error_naming_it(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".council").mkdir()
    (tmp_path / ".council" / "dismissed.toml").write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_dismissals(tmp_path)
    assert "dismissed.toml" in str(caught.value)


def test_a_trusted_reader_replaces_the_working_tree_file(tmp_path: Path) -> None:
    # An untrusted diff must not hide findings: dismissals then come from the base commit.
    dismiss(tmp_path, demo_findings().findings[0], "sneaky", today=TODAY)
    assert len(load_dismissals(tmp_path, read=lambda rel: None)) == 0
    base = '[[dismissed]]\nfingerprint = "f1"\n'
    asked: list[str] = []

    def read(rel: str) -> str:
        asked.append(rel)
        return base

    assert list(load_dismissals(tmp_path, read=read).entries) == ["f1"]
    assert asked == [".council/dismissed.toml"]


def test_apply_dismissals_splits_and_names_reasons() -> None:
    findings = list(demo_findings().findings)
    entries = Dismissals({findings[1].id: Dismissal(findings[1].id, reason="dup of #12")})
    kept, dismissed = apply_dismissals(findings, entries)
    assert [f.id for f in kept] == [f.id for f in findings if f.id != findings[1].id]
    assert [(f.id, d.reason) for f, d in dismissed] == [(findings[1].id, "dup of #12")]
    no_reason = Dismissals({findings[0].id: Dismissal(findings[0].id)})
    assert dismissal_reasons(findings, no_reason) == {findings[0].id: "dismissed"}


def _outcomes(
    prepared: PreparedReview, answers: dict[str, list[Finding]]
) -> list[AssignmentOutcome]:
    return [
        AssignmentOutcome(
            a, status=ReviewerStatus.OK, findings=answers.get(a.agent.name, []), model="fake/m"
        )
        for a in prepared.plan.assignments
    ]


def _answers() -> dict[str, list[Finding]]:
    return {
        "security": [Finding.model_validate(finding(6, "Unvalidated key lookup", "high"))],
        "correctness": [
            Finding.model_validate(finding(2, "price may be missing on items", "high")),
            Finding.model_validate(finding(6, "Key lookup is not validated", "high")),
        ],
    }


async def _review_after_dismissing(
    repo: GitRepo, show: bool, max_findings: int | None = None
) -> tuple[str, Review]:
    prepared = await prepare(repo, ("security", "correctness"))
    first = assemble_review(prepared, _outcomes(prepared, _answers()), {}, SETTINGS)
    lookup = next(f for f in first.findings if f.line == 6)
    assert sorted(lookup.reviewers) == ["correctness", "security"]  # merged from two
    await anyio.to_thread.run_sync(lambda: dismiss(repo.root, lookup, "checked upstream"))
    # The next review: prepare_review reads the file again.
    again = await prepare(repo, ("security", "correctness"))
    chosen = replace(SETTINGS, show_dismissed=show, max_findings=max_findings)
    return lookup.id, assemble_review(again, _outcomes(again, _answers()), {}, chosen)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_next_review_leaves_a_dismissed_finding_out(
    tmp_path: Path, anyio_backend: str
) -> None:
    repo = changed_repo(tmp_path)
    dismissed_id, review = await _review_after_dismissing(repo, show=False)
    assert dismissed_id not in [f.id for f in review.findings]
    assert [f.rank for f in review.findings] == [1]
    assert review.summary.counts["high"] == 1
    rejected = [r for r in review.rejected if r.reason == "dismissed: checked upstream"]
    # Conservation: both reviewers' reports of the dismissed finding are accounted for.
    assert sorted(r.reviewer for r in rejected) == ["correctness", "security"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_dismissed_finding_takes_no_max_findings_place(
    tmp_path: Path, anyio_backend: str
) -> None:
    repo = changed_repo(tmp_path)
    dismissed_id, review = await _review_after_dismissing(repo, show=False, max_findings=1)
    assert [(f.rank, f.line) for f in review.findings] == [(1, 2)]
    assert {r.reason for r in review.rejected} == {"dismissed: checked upstream"}
    other = changed_repo(tmp_path / "shown")
    _, shown = await _review_after_dismissing(other, show=True, max_findings=1)
    assert [f.id for f in shown.findings] == [dismissed_id]  # the top one, when not dismissed
    assert [r.reason for r in shown.rejected] == ["over --max-findings 1 (rank 2)"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_show_dismissed_keeps_it(tmp_path: Path, anyio_backend: str) -> None:
    repo = changed_repo(tmp_path)
    dismissed_id, review = await _review_after_dismissing(repo, show=True)
    assert dismissed_id in [f.id for f in review.findings]
    assert review.rejected == []


def test_show_dismissed_from_flag_and_environment(tmp_path: Path) -> None:
    assert resolve_settings({}, repo=tmp_path, env={}).show_dismissed is False
    assert resolve_settings({"show_dismissed": True}, repo=tmp_path, env={}).show_dismissed
    env = {"COUNCIL_SHOW_DISMISSED": "yes"}
    assert resolve_settings({}, repo=tmp_path, env=env).show_dismissed
