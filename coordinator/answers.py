"""Turn a reviewer's answer into validated findings, or say exactly why it is invalid.

Structured output is taken as is; text answers may wrap the JSON object in a
fenced block or prose, so we take the fenced block or the first balanced object.
Nothing is guessed: an invalid answer gets the validation errors back (for one
repair turn), never a heuristic patch.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from coordinator.findings import ReviewerAnswer, Severity


class AnswerError(ValueError):
    """The answer does not match the output contract; ``errors`` is shown to the model."""

    def __init__(self, errors: str) -> None:
        super().__init__(errors)
        self.errors = errors


FINDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "line": {"type": "integer", "minimum": 1},
        "end_line": {"type": ["integer", "null"], "minimum": 1},
        "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "category": {"type": "string"},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "suggestion": {"type": ["string", "null"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "evidence": {"type": ["string", "null"]},
    },
    "required": ["path", "line", "severity", "category", "title", "body", "confidence"],
    "additionalProperties": False,
}

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"findings": {"type": "array", "items": FINDING_SCHEMA}},
    "required": ["findings"],
    "additionalProperties": False,
}

_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL)


def extract_json_text(text: str) -> str | None:
    """The JSON object in ``text``: a fenced block if there is one, else the first balanced ``{...}``."""
    for match in _FENCE.finditer(text):
        candidate = match.group(1).strip()
        if candidate.startswith("{"):
            return candidate
    start = text.find("{")
    while start != -1:
        end = _balanced_end(text, start)
        if end is not None:
            return text[start : end + 1]
        start = text.find("{", start + 1)
    return None


def _balanced_end(text: str, start: int) -> int | None:
    depth = 0
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:20]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        lines.append(f"- {where}: {err['msg']}")
    return "\n".join(lines)


def parse_answer(text: str, structured: dict[str, Any] | None = None) -> ReviewerAnswer:
    if structured is not None:
        payload: Any = structured
    else:
        raw = extract_json_text(text)
        if raw is None:
            raise AnswerError(
                '- (root): no JSON object found; answer with one object {"findings": [...]}'
            )
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise AnswerError(f"- (root): invalid JSON: {exc.msg} at char {exc.pos}") from exc
    try:
        return ReviewerAnswer.model_validate(payload)
    except ValidationError as exc:
        raise AnswerError(_format_validation_error(exc)) from exc
