"""The values settings and command-line flags accept, as plain constants.

Kept free of imports so building the argument parser (``council --help``, the git
hook) loads no pydantic model; ``config`` and ``review`` hold the typed forms.
"""

from __future__ import annotations

FILTER_MODES = ("added", "diff_context", "file", "nofilter")
RUNTIMES = ("opencode", "claude-code", "anthropic", "openai")
FORMATS = ("text", "markdown", "json", "sarif", "rdjson")
FAIL_ON = ("critical", "high", "medium", "low", "info", "never")  # review.FailOn's values
