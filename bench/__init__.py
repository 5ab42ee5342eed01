"""adlab's benchmark suite: speed ratios against micrograd, plain NumPy, HIPS autograd
and PyTorch, and what checkpointing saves.

Run it from the repository root with ``make bench`` or ``.venv/bin/python bench/run.py``
(``--quick`` for a smoke run, ``--help`` for the options); it writes ``results.json``,
``results.md`` and one PNG per benchmark into ``bench/results/`` (``--out DIR``). From
Python::

    from bench.run import run
    report = run(quick=True)          # a dict; nothing is written unless out_dir= or
                                      # json_path= is given

Every figure is a ratio of two measurements taken in the same run, never an absolute
time checked against a threshold.
"""
