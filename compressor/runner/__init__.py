"""The command line's built-in harness: a whole compression run on a built-in data set.

1. :mod:`.run`  ``CompressionRun``: reads the schedule and builds what it names (model,
   data, optimizer, the engine's ``CompressionScheduler``), trains dense (or loads a
   dense checkpoint), then runs the compression epochs, checkpointing after each so
   that ``--resume-from`` repeats an uninterrupted run exactly;
2. :mod:`.train`  the training and evaluation loops, calling the scheduler's hooks;
3. :mod:`.report`  ``report.json`` and ``report.md`` of the finished run.
"""
