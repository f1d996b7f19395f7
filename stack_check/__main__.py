"""`python -m stack_check [--stack NAME] [--placeholder-secrets]`; see stack_check.check."""

from __future__ import annotations

import sys

from stack_check.check import main

sys.exit(main())
