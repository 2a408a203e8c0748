"""Open a file at a line in the user's editor ($VISUAL, then $EDITOR, then vi).

Editors disagree on how to say "at line N"; ``editor_command`` knows the common ones
and falls back to ``+N FILE``, which vi, vim, nvim, nano, emacs, micro and kak take.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

_GOTO_FLAG = {"code", "code-insiders", "codium", "cursor", "windsurf"}  # --goto FILE:LINE
_COLON_SUFFIX = {"subl", "sublime_text", "zed", "hx", "helix", "mate"}  # FILE:LINE
_LINE_FLAG = {"idea", "pycharm", "charm", "goland", "webstorm", "clion"}  # --line N FILE


def editor_from(env: Mapping[str, str]) -> list[str]:
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            return shlex.split(value)
    return ["vi"]


def editor_command(editor: list[str], path: Path, line: int) -> list[str]:
    name = Path(editor[0]).name.removesuffix(".exe")
    if name in _GOTO_FLAG:
        return [*editor, "--goto", f"{path}:{line}"]
    if name in _COLON_SUFFIX:
        return [*editor, f"{path}:{line}"]
    if name in _LINE_FLAG:
        return [*editor, "--line", str(line), str(path)]
    return [*editor, f"+{line}", str(path)]


def run_editor(argv: list[str]) -> int:
    """Run the editor in the foreground; the app suspends itself around this."""
    try:
        return subprocess.run(argv, check=False).returncode
    except OSError:
        return 127
