"""``python -m bench``: per-stage time, rows/s, peak RSS and spill, next to the DuckDB limit and a
pandas peer."""

import sys

from bench.main import main

sys.exit(main())
