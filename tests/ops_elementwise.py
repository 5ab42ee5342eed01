"""Registry entries added for NumPy coverage, and typical inputs for their reads checks.

``COVERED`` lists the primitives whose property tests live in the matching test file;
``TYPICAL[name](rng)`` gives a few ``(args, params)`` for test_primitives' check that
each VJP rule reads only what it declares.
"""

COVERED: set[str] = set()
TYPICAL: dict = {}
