"""``python -m compressor ...``: the ``compress`` command."""

import sys

from .cli import main

sys.exit(main())
