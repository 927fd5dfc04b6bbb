"""The ``compress`` command line.

:mod:`.main` builds the parser from one module per subcommand (:mod:`.run`,
:mod:`.check`, :mod:`.params`, :mod:`.thin`, :mod:`.bench`, :mod:`.sparse`), each
adding its options and ``set_defaults(func=...)``; ``main`` dispatches to that
function and turns a ``CompressorError`` (a user's mistake) into a message and exit
status 2. A subcommand imports what it runs when it runs, so ``compress --help``
costs no more than importing torch.
"""

from .main import main

__all__ = ["main"]
