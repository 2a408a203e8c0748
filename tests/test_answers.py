import pytest

from coordinator.answers import AnswerError, extract_json_text, parse_answer

GOOD = {
    "path": "app/db.py",
    "line": 10,
    "severity": "HIGH",
    "category": "security",
    "title": "SQL injection",
    "body": "User input is formatted into SQL.",
    "confidence": 0.9,
}


def test_structured_output_is_validated() -> None:
    answer = parse_answer("", {"findings": [GOOD]})
    assert answer.findings[0].severity == "high"
    assert answer.findings[0].path == "app/db.py"


def test_fenced_json_inside_prose() -> None:
    text = 'Here you go:\n```json\n{"findings": []}\n```\nThanks'
    assert parse_answer(text).findings == []


def test_first_balanced_object_with_braces_in_strings() -> None:
    text = 'Result: {"findings": [{"path": "a.py", "line": 1, "severity": "low", "category": "x", "title": "uses {} and \\"}\\"", "body": "", "confidence": 0.5}]} trailing {'
    answer = parse_answer(text)
    assert answer.findings[0].title == 'uses {} and "}"'


def test_leading_dot_slash_is_stripped_from_paths() -> None:
    answer = parse_answer("", {"findings": [{**GOOD, "path": "./app/db.py"}]})
    assert answer.findings[0].path == "app/db.py"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no json here", "no JSON object found"),
        ('{"findings": [', "no JSON object found"),
        ('{"findings": 3}', "findings: Input should be a valid list"),
        ('{"findings": [{"path": "a.py"}]}', "findings.0.line: Field required"),
    ],
)
def test_invalid_answers_explain_why(text: str, expected: str) -> None:
    with pytest.raises(AnswerError) as info:
        parse_answer(text)
    assert expected in info.value.errors


def test_confidence_out_of_range_is_rejected() -> None:
    with pytest.raises(AnswerError, match="confidence"):
        parse_answer("", {"findings": [{**GOOD, "confidence": 3}]})


def test_extract_prefers_fenced_object() -> None:
    assert extract_json_text('{"a": 1} and ```json\n{"b": 2}\n```') == '{"b": 2}'


def test_suggestion_and_evidence_keep_their_indentation() -> None:
    item = {
        **GOOD,
        "title": "  t  ",
        "suggestion": "\n    return x + 1\n",
        "evidence": "    return x  ",
    }
    finding = parse_answer("", {"findings": [item]}).findings[0]
    assert finding.title == "t"
    assert finding.suggestion == "    return x + 1"
    assert finding.evidence == "    return x"
