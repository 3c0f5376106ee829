"""``python -m pillow_l3c.bench``: the same benchmark as ``l3c bench``.

It is also how the benchmark starts its measuring children (``--worker SPEC``).
"""

from __future__ import annotations

import sys

from pillow_l3c.bench import main

sys.exit(main())
