"""The command line's built-in harness: :mod:`.run`, :mod:`.train`, :mod:`.report`."""
