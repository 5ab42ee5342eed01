"""Registry entries added for NumPy coverage, and typical inputs for their reads checks.

``COVERED`` lists the primitives whose property tests live in the matching test file;
``TYPICAL[name](rng)`` gives a few ``(args, params)`` for test_primitives' check that
each VJP rule reads only what it declares.

Here: products and shapes (tests/test_ops_arrays.py).
"""

import numpy as np

COVERED: set[str] = {
    "einsum", "tensordot", "outer", "inner",
    "repeat", "tile", "diag", "matrix_trace", "triu", "tril", "pad", "flip", "roll",
    "clip", "sort", "sort_by", "unsort_by", "astype",
}


def _u(rng):
    return lambda *shape: rng.uniform(-2, 2, shape)


TYPICAL: dict = {
    "einsum": lambda rng: [
        ((_u(rng)(3, 4), _u(rng)(4, 5)), {"spec": "ij,jk->ik"}),
        ((_u(rng)(2, 3, 4), _u(rng)(2, 4, 2)), {"spec": "bij,bjk->bik"}),
        ((_u(rng)(3, 3),), {"spec": "ii->i"}),
        ((_u(rng)(3, 3),), {"spec": "ii->"}),
        ((_u(rng)(2, 1), _u(rng)(3, 5)), {"spec": "ak,bk->ab"}),  # k broadcast from 1
        ((_u(rng)(3), _u(rng)(3, 2), _u(rng)(2)), {"spec": "i,ij,j->"}),
    ],
    "tensordot": lambda rng: [
        ((_u(rng)(2, 3, 4), _u(rng)(4, 3, 5)), {"axes": ([1, 2], [1, 0])}),
        ((_u(rng)(3, 4), _u(rng)(4, 2)), {"axes": 1}),
        ((_u(rng)(2, 3), _u(rng)(2, 3)), {"axes": 2}),
        ((_u(rng)(3), _u(rng)(2)), {"axes": 0}),
    ],
    "outer": lambda rng: [((_u(rng)(3), _u(rng)(4)), {}), ((_u(rng)(2, 3), _u(rng)(2)), {})],
    "inner": lambda rng: [((_u(rng)(3), _u(rng)(3)), {}), ((_u(rng)(2, 3), _u(rng)(4, 3)), {}),
                          ((_u(rng)(2, 2, 3), _u(rng)(3)), {})],
    "repeat": lambda rng: [((_u(rng)(3, 4),), {"repeats": 2, "axis": 1}),
                           ((_u(rng)(3, 4),), {"repeats": [1, 0, 2], "axis": 0}),
                           ((_u(rng)(2, 3),), {"repeats": 3})],
    "tile": lambda rng: [((_u(rng)(3, 4),), {"reps": (2, 1)}),
                         ((_u(rng)(3),), {"reps": (2, 1, 3)})],
    "diag": lambda rng: [((_u(rng)(4),), {"k": 1}), ((_u(rng)(3, 4),), {"k": -1}),
                         ((_u(rng)(3, 3),), {})],
    "matrix_trace": lambda rng: [((_u(rng)(3, 3),), {}),
                                 ((_u(rng)(2, 3, 4),), {"offset": 1, "axis1": 2, "axis2": 0})],
    "triu": lambda rng: [((_u(rng)(3, 4),), {"k": 1}), ((_u(rng)(2, 3, 3),), {}),
                         ((_u(rng)(4),), {"k": -1})],
    "tril": lambda rng: [((_u(rng)(3, 4),), {"k": 1}), ((_u(rng)(2, 3, 3),), {}),
                         ((_u(rng)(4),), {"k": -1})],
    "pad": lambda rng: [((_u(rng)(3, 4),), {"pad_width": ((1, 2), (0, 1)),
                                            "constant_values": 2.0})],
    "flip": lambda rng: [((_u(rng)(3, 4),), {"axis": 0}), ((_u(rng)(2, 3, 4),), {})],
    "roll": lambda rng: [((_u(rng)(3, 4),), {"shift": 2, "axis": 1}),
                         ((_u(rng)(3, 4),), {"shift": -5}),
                         ((_u(rng)(2, 3, 4),), {"shift": (1, 2), "axis": (0, 2)})],
    "clip": lambda rng: [((_u(rng)(3, 4), -0.5, 0.8), {}),
                         ((_u(rng)(3, 4), 0.3 * _u(rng)(4) - 0.5, 0.3 * _u(rng)(3, 1) + 0.8), {})],
    "sort": lambda rng: [((_u(rng)(3, 4),), {"axis": -1}), ((_u(rng)(3, 4),), {"axis": 0}),
                         ((_u(rng)(2, 3),), {"axis": None})],
    "sort_by": lambda rng: [((_u(rng)(3, 4), _u(rng)(3, 4)), {"axis": 1}),
                            ((_u(rng)(2, 3), _u(rng)(2, 3)), {"axis": None})],
    "unsort_by": lambda rng: [((_u(rng)(3, 4), _u(rng)(3, 4)), {"axis": 0}),
                              ((_u(rng)(6), _u(rng)(2, 3)), {"axis": None})],
    # float64 inputs: the VJP casts back to x's precision, and the reads check replaces
    # unread values by float64 NaNs
    "astype": lambda rng: [((_u(rng)(3, 4),), {"dtype": np.dtype(np.float32)}),
                           ((_u(rng)(3),), {"dtype": np.dtype(np.float64)})],
}
