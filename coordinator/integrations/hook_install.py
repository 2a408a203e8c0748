"""``council hook install|uninstall``: manage the git pre-push hook file.

The hook is a small sh script that runs ``council hook run pre-push`` with the
Python that installed it (so a git GUI with a bare PATH still finds council;
``-P`` so a ``coordinator`` folder in the repository cannot stand in for it),
falling back to ``council`` on PATH. It carries a marker line: install replaces
only a hook with that marker (another hook needs ``--force`` and is kept as a
backup, which uninstall puts back), and uninstall removes only its own.
The hooks folder comes from ``git rev-parse --git-path hooks``, which honours
``core.hooksPath`` and linked worktrees.
"""

from __future__ import annotations

import shlex
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import coordinator
from coordinator.errors import ConfigError

HOOK_NAME = "pre-push"
MARKER = "# council-managed-hook v1"
BACKUP_SUFFIX = ".council-backup"

_SCRIPT = """\
#!/bin/sh
{marker}
# Installed by `council hook install`; remove it with `council hook uninstall`.
# council reviews the commits being pushed and blocks the push on serious findings.
# Bypass once: `git push --no-verify`, or COUNCIL_SKIP=1 git push.
if [ "${{COUNCIL_SKIP:-}}" = "1" ]; then
  echo "council: COUNCIL_SKIP=1, pushing without a review" >&2
  exit 0
fi
council_python={python}
if [ -x "$council_python" ] && [ -f {package}/__init__.py ]; then
  exec "$council_python" -P -m coordinator hook run pre-push "$@"
fi
if command -v council >/dev/null 2>&1; then
  exec council hook run pre-push "$@"
fi
echo "council: cannot find council (it was installed with $council_python); pushing without a review. Reinstall council, or remove this hook with 'council hook uninstall'." >&2
exit 0
"""


class HookFileError(ConfigError):
    """The hook cannot be installed or removed as asked; the message says why and what to do."""


@dataclass(frozen=True)
class HookChange:
    path: Path
    message: str


def hooks_dir(repo: Path) -> Path:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--git-path", "hooks"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise HookFileError("git is not installed or not on PATH") from exc
    if done.returncode != 0:
        raise HookFileError(f"{repo} is not a git repository: {done.stderr.strip()}")
    return (repo / done.stdout.strip()).resolve()  # relative answers are relative to repo


def hook_script(python: str | None = None) -> str:
    package = Path(coordinator.__file__).resolve().parent
    return _SCRIPT.format(
        marker=MARKER,
        python=shlex.quote(python or sys.executable),
        package=shlex.quote(str(package)),
    )


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace").splitlines()[:3]
    except OSError:
        return False


def _free_backup(path: Path) -> Path:
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    n = 1
    while backup.exists() or backup.is_symlink():
        backup = path.with_name(f"{path.name}{BACKUP_SUFFIX}.{n}")
        n += 1
    return backup


def install_hook(repo: Path, *, force: bool = False) -> HookChange:
    folder = hooks_dir(repo)
    path = folder / HOOK_NAME
    note = "installed"
    if path.exists() or path.is_symlink():
        if is_ours(path):
            note = "updated"
        elif not force:
            raise HookFileError(
                f"{path} already exists and was not written by council. Rerun with --force to "
                f"replace it (it is kept as {path.name}{BACKUP_SUFFIX}), or call "
                "'council hook run pre-push \"$@\"' from your own hook."
            )
        else:
            backup = _free_backup(path)
            path.rename(backup)
            note = f"installed (your previous hook is kept as {backup})"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(hook_script(), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError as exc:
        raise HookFileError(f"cannot write {path}: {exc.strerror}") from exc
    return HookChange(path, f"council: pre-push hook {note}: {path}")


def uninstall_hook(repo: Path) -> HookChange:
    path = hooks_dir(repo) / HOOK_NAME
    if not (path.exists() or path.is_symlink()):
        return HookChange(path, f"council: no pre-push hook at {path}, nothing to remove")
    if not is_ours(path):
        raise HookFileError(f"{path} was not written by council; it is left alone")
    try:
        path.unlink()
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if backup.exists():
            backup.rename(path)
            return HookChange(path, f"council: pre-push hook removed; restored {backup.name}")
    except OSError as exc:
        raise HookFileError(f"cannot remove {path}: {exc.strerror}") from exc
    return HookChange(path, f"council: pre-push hook removed: {path}")
