"""``python -m coordinator`` is ``council``."""

import sys

from coordinator.cli import main

sys.exit(main())
