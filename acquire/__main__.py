"""``python -m acquire`` runs the command line."""

from __future__ import annotations

import sys

from acquire.cli.main import main

sys.exit(main())
