"""``python -m pillow_l3c``: the ``l3c`` command, for environments without its script."""

from __future__ import annotations

import sys

from pillow_l3c.cli import main

sys.exit(main())
