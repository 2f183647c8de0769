"""dlbook: the code behind every page of the executable deep-learning handbook.

Kept light on purpose: importing ``dlbook`` does not import TensorFlow. Import the
topic modules (``dlbook.base.seeding``, ``dlbook.data``, ``dlbook.last_layer``...) instead.

It does fix one thing before TensorFlow can start: the numeric path. TensorFlow reads
``TF_ENABLE_ONEDNN_OPTS`` when it starts, and oneDNN's kernels give other float results;
the book runs with them off. Importing any ``dlbook`` module first sets it (unless it is
set already); :data:`ONEDNN_AT_START` records what TensorFlow saw, and the trained-model
store keys on it, so a session that started TensorFlow first never shares an entry with
the book's.
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

if "tensorflow" not in _sys.modules:
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
#: ``TF_ENABLE_ONEDNN_OPTS`` when dlbook was first imported (``None``: unset, so
#: TensorFlow's default, oneDNN on where it has it)
ONEDNN_AT_START = _os.environ.get("TF_ENABLE_ONEDNN_OPTS")
