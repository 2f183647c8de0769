"""Pages execute two at a time (``nox -s tests`` builds with ``sphinx -j 2``; nbval
and the pasted scripts run two workers): a training must give the same weights
whether it runs alone or beside another. What changes weights is the intra-op thread
count (part of the store's key, :func:`dlbook.training.key.numeric_path`), not the
load on the machine: this test trains the same small convnet alone and two at once,
each in a fresh interpreter, and compares the weights bit for bit."""

import hashlib
import os
import subprocess
import sys

TRAIN = """
import hashlib, numpy as np
from dlbook import convnets, data, training
digits = data.mnist_digits()
x = digits.x[:1200, ..., None].astype("float32") / 255
model = convnets.mnist_convnet(seed=5)
training.fit(model, (x, digits.y[:1200]), loss="sparse_categorical_crossentropy",
             epochs=1, batch_size=64, seed=5)
print(hashlib.sha256(b"".join(np.asarray(v).tobytes()
                              for v in model.get_weights())).hexdigest())
"""


def _start(env):
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _digest(process) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]
    return out.strip().splitlines()[-1]


def test_a_training_gives_the_same_weights_alone_and_beside_another():
    env = {**os.environ, "DLBOOK_STORE": "off", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("DLBOOK_RETRAIN", None)
    alone = _digest(_start(env))
    pair = [_start(env), _start(env)]
    together = [_digest(p) for p in pair]
    assert together == [alone, alone]
    assert len(alone) == len(hashlib.sha256().hexdigest())
