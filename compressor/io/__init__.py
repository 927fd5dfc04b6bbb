"""Checkpoints and what is rebuilt from them (see :mod:`.checkpoint`, :mod:`.spec`, :mod:`.sparse`)."""
