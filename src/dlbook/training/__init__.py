"""One training core and its trained-model store (see :mod:`dlbook.training.core`).

``from dlbook import training`` then ``training.fit(...)``: the names below are the
core's; the store is :mod:`dlbook.training.store`.
"""

from dlbook.base.seeding import reseed
from dlbook.training.core import (
    Fit,
    Result,
    accuracy,
    binary_accuracy,
    fit,
    fit_classifier,
    predict,
    reset_optimizer,
    run,
)

__all__ = [
    "Fit",
    "Result",
    "accuracy",
    "binary_accuracy",
    "fit",
    "fit_classifier",
    "predict",
    "reseed",
    "reset_optimizer",
    "run",
]
