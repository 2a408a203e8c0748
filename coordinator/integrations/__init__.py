"""Where reviews land: the git pre-push hook and GitHub pull requests.

The edge of the package: modules here use the core (runner, review store,
reporters) and are used only by the CLI; nothing in the core imports them.

Exit codes beyond the CLI's 0 (pass), 1 (findings at or above ``--fail-on``),
2 (usage or configuration) and 3 (every reviewer failed):

- 4: ``--github`` could not post the review (GitHub refused or kept failing);
  the review itself was still printed, written to the step summary and emitted
  as annotations.
"""

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_NOT_POSTED = 4
