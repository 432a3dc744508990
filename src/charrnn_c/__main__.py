"""python -m charrnn_c: the charrnn command line."""

import sys

from .cli import main

sys.exit(main())
