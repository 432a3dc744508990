"""python -m charrnn_c: the charrnn command line."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
