"""``python -m compressor ...`` is ``compress ...``."""

import sys

from .cli import main

sys.exit(main())
