"""Small real data sets that ship with adlab, so training works offline.

:func:`load_digits` gives the 1,797 handwritten digits of the UCI "Optical Recognition
of Handwritten Digits" data (8x8 images, 16 grey levels, 10 classes), read from
``adlab/data/digits.csv.gz`` (a copy of scikit-learn's file; licence and attribution in
``adlab/data/README.md``). Nothing is downloaded.

>>> X_train, y_train, X_test, y_test = load_digits()
>>> X_train.shape, X_test.shape, float(X_train.max())
((1437, 64), (360, 64), 1.0)
"""

from __future__ import annotations

import functools
import gzip
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_digits", "digits_raw", "DIGITS_CITATION"]

#: How to cite the digits (the original data set, CC BY 4.0).
DIGITS_CITATION = (
    'E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine '
    "Learning Repository, 1998, https://doi.org/10.24432/C50P49 (CC BY 4.0)"
)

_N_DIGITS, _N_PIXELS = 1797, 64
DATA_DIR = Path(__file__).with_name("data")  # shipped as package data (pyproject.toml)


@functools.lru_cache(maxsize=1)
def _digits_table() -> np.ndarray:
    """The whole file as one read-only integer array of shape (1797, 65), read once."""
    try:
        with gzip.open(DATA_DIR / "digits.csv.gz", "rt") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    except FileNotFoundError:
        raise FileNotFoundError(
            "adlab's copy of the digits (adlab/data/digits.csv.gz) is missing. It ships "
            "with adlab: reinstall it (pip install -e .) or restore the file from git."
        ) from None
    if table.shape != (_N_DIGITS, _N_PIXELS + 1):
        raise ValueError(f"adlab/data/digits.csv.gz has shape {table.shape}, expected "
                         f"({_N_DIGITS}, {_N_PIXELS + 1}): the file is damaged.")
    table.flags.writeable = False  # shared by every caller: nobody may change it
    return table


def digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits unscaled: pixels (1797, 64) with integers 0..16, labels (1797,).

    Row ``i`` of the pixels is the 8x8 image ``pixels[i].reshape(8, 8)`` read row by row.
    The arrays are read-only views of a cached table; copy them to change them.
    """
    table = _digits_table()
    return table[:, :_N_PIXELS], table[:, _N_PIXELS]


def _split(labels: np.ndarray, test_fraction: float, rng: np.random.Generator,
           stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and the test rows (``ceil(test_fraction * n)`` test rows)."""
    n_test = math.ceil(test_fraction * len(labels))
    if not stratify:
        order = rng.permutation(len(labels))
        return order[n_test:], order[:n_test]
    classes, counts = np.unique(labels, return_counts=True)
    # each class gives test_fraction of its rows; the rounding is shared out so that the
    # total is n_test (largest remainders first, ties to the smaller class label)
    share = counts * (n_test / len(labels))
    per_class = np.floor(share).astype(int)
    extra = n_test - per_class.sum()
    per_class[np.argsort(-(share - per_class), kind="stable")[:extra]] += 1
    train, test = [], []
    for c, k in zip(classes, per_class):
        rows = rng.permutation(np.flatnonzero(labels == c))
        test.append(rows[:k])
        train.append(rows[k:])
    # shuffle across classes, so that the rows are not sorted by label
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(test_fraction: float = 0.2, seed: int | None = 0, dtype: Any = np.float64,
                *, stratify: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 8x8 digits, scaled to [0, 1] and split into training and test sets.

    Returns ``(X_train, y_train, X_test, y_test)``: ``X`` of shape ``(n, 64)`` and
    ``dtype``, each row one image (pixel / 16), ``y`` integer labels 0..9 of shape
    ``(n,)``. ``ceil(test_fraction * n)`` of the rows go to the test set, drawn with a generator
    seeded with ``seed`` (the same seed gives the same split); with ``stratify`` (the
    default) the fraction is taken from each class separately, so both sets have the
    classes in the same proportions. The default split has 1,437 training and 360 test
    images.

    The arrays are fresh copies: changing them changes nothing else.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    pixels, labels = digits_raw()
    train, test = _split(labels, test_fraction, np.random.default_rng(seed), stratify)
    X = (pixels / 16.0).astype(dtype)
    return X[train], labels[train].copy(), X[test], labels[test].copy()
