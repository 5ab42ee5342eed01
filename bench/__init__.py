"""adlab's benchmark suite: speed ratios against micrograd, plain NumPy and HIPS autograd.

Run it from the repository root with ``.venv/bin/python bench/run.py`` (``--quick`` for
a smoke run, ``--help`` for the options), or from Python::

    from bench.run import run
    report = run(quick=True)          # a dict; nothing is written unless json_path= is given

Every figure is a ratio of two timings taken in the same run, never an absolute
time checked against a threshold.
"""
