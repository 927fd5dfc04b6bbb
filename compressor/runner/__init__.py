"""The command line's built-in harness: a whole compression run, on a built-in data set
or the user's image folder, with a built-in or the user's own architecture.

1. :mod:`.prepare`  the schedule → data set shape, model (``model.weights`` loaded, the
   classifier replaced for another class count), every problem with its line;
2. :mod:`.settings`  the run's effective settings, stored in every checkpoint and
   restored (and checked against the command line) on ``--resume-from``;
3. :mod:`.rundir`  one run per output directory (``run.json``; ``--overwrite``);
4. :mod:`.run`  ``CompressionRun``: builds the optimizer and the engine's
   ``CompressionScheduler``, trains dense (or loads a dense checkpoint), then runs the
   compression epochs, checkpointing after each so that ``--resume-from`` repeats an
   uninterrupted run exactly; an interrupt writes a partial report;
5. :mod:`.train`  the training and evaluation loops (cross-entropy), calling the
   scheduler's hooks, over in-memory splits or image-folder loaders;
6. :mod:`.logging`  ``epochs.csv`` and TensorBoard scalars per epoch;
7. :mod:`.report` and :mod:`.plots`  ``report.json``, ``report.md`` and its PNG plots.
"""
