"""Where the book's training time goes, measured in one run on one machine.

- the machine's peak: a large float32 matmul under the book's thread settings;
- every training of a build (from its store's journal): seconds, fixed cost (building,
  tracing, the first step) against the steady state, samples per second and training
  FLOP/s as a share of that peak (:mod:`dlbook.training.profile`);
- the book's core against a plain Keras ``fit`` of the same model and data, alternated
  in one process (goal: a ratio of at most 1.02).

``build_times.py`` prints all three after its cold build; alone,
``python benchmarks/training_time.py [STORE_FOLDER]`` prints the peak, the core's ratio
and, given a store, its trainings.
"""

from __future__ import annotations

import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

MATMUL_SIZE = 2048
# alternations of the core and plain fit: on 2 cores one 2.5 s fit swings by up to
# 40 % from run to run (3 alternations gave ratios of 1.02-1.23 on a loaded machine,
# 5 gave medians of 2.48 s vs 2.15 s but minimums of 2.10 vs 2.11)
REPEATS = 9


def peak_flops(size: int = MATMUL_SIZE, repeats: int = 10) -> float:
    """FLOP/s of the best of ``repeats`` ``size`` x ``size`` float32 matmuls."""
    importlib.import_module("dlbook")  # the book's numeric settings, before TensorFlow
    import tensorflow as tf

    a = tf.random.stateless_normal((size, size), seed=(1, 2))
    b = tf.random.stateless_normal((size, size), seed=(3, 4))
    tf.linalg.matmul(a, b).numpy()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def training_rows(journal: list[dict], peak: float) -> list[str]:
    """One line per training that ran (journal misses), the slowest first, and the
    totals: the share of training time that is fixed cost."""
    from dlbook.training import profile

    lines, fixed_total, trained_total = [], 0.0, 0.0
    ran = [line for line in journal if not line.get("restored")]
    for line in sorted(ran, key=lambda j: -j["training_s"]):
        trained_total += line["training_s"]
        fits = [profile.summary(p) for p in line.get("fits", [])]
        counted = [f for f in fits if f["fixed_s"] is not None]
        fixed = sum(f["fixed_s"] for f in counted)
        fixed_total += fixed
        if "fits" not in line:
            detail = "not profiled (a journal line from before profiling)"
        elif not fits:
            detail = "a loop of its own (no Keras fit timed)"
        elif not counted:
            detail = f"{len(fits)} fit(s) of one epoch: fixed cost not separable"
        else:
            rate = statistics.median(f["samples_per_s"] or 0 for f in counted)
            flops = [f["flops"] for f in counted if f["flops"]]
            share = (
                f", {statistics.median(flops) / 1e9:.1f} GFLOP/s "
                f"= {100 * statistics.median(flops) / peak:.0f} % of peak"
                if flops
                else ""
            )
            detail = (
                f"{len(fits)} fit(s), fixed {fixed:.2f} s, steady "
                f"{rate:,.0f} samples/s{share}"
            )
        lines.append(f"  {line['training_s']:7.2f} s  {line['routine']}: {detail}")
    lines.append(
        f"  fixed cost (build + trace + first step, over timed fits) "
        f"{fixed_total:.0f} s of {trained_total:.0f} s of training"
        + (f" ({100 * fixed_total / trained_total:.0f} %)" if trained_total else "")
    )
    return lines


def core_vs_fit(repeats: int = REPEATS) -> dict:
    """The digit convnet (6,000 digits, 2 epochs) trained through
    :func:`dlbook.training.fit` (store asked to retrain) and through plain Keras
    ``fit``, alternated ``repeats`` times after one warm-up of each. Returns the
    fastest and the median seconds of each, the ratio of the fastest (the runs the
    machine disturbed least: the estimate the goal reads, as ``timeit`` advises) and of
    the medians, and the core's own cost as its journal measured it (keying, store,
    seeding: everything around the Keras ``fit``) as a share of the trainings."""
    os.environ["DLBOOK_RETRAIN"] = "1"
    folder = tempfile.mkdtemp(prefix="dlbook-core-")
    os.environ["DLBOOK_STORE"] = folder
    from dlbook import convnets, data, training
    from dlbook.base.seeding import reseed
    from dlbook.training import store

    digits = data.mnist_digits()
    x = digits.x[:6000, ..., None].astype("float32") / 255
    y = digits.y[:6000]
    settings = {"epochs": 2, "batch_size": 64, "shuffle": True}
    loss = "sparse_categorical_crossentropy"
    core, plain = [], []
    for _ in range(repeats + 1):  # the first of each warms up, not counted
        model = convnets.mnist_convnet(seed=0)
        start = time.perf_counter()
        training.fit(model, (x, y), loss=loss, metrics=["accuracy"], **settings)
        core.append(time.perf_counter() - start)

        model = convnets.mnist_convnet(seed=0)
        reseed(0)
        start = time.perf_counter()
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        model.fit(x, y, verbose=0, **settings)
        plain.append(time.perf_counter() - start)
    core, plain = core[1:], plain[1:]
    journal = store.read_journal(Path(folder))[1:]
    own = sum(line["overhead_s"] for line in journal)
    trained = sum(line["training_s"] for line in journal)
    return {
        "core_min": min(core),
        "plain_min": min(plain),
        "core_median": statistics.median(core),
        "plain_median": statistics.median(plain),
        "ratio": min(core) / min(plain),
        "median_ratio": statistics.median(core) / statistics.median(plain),
        "own_share": own / trained,
    }


def core_line(c: dict) -> str:
    """The comparison in words, the ratio against its goal."""
    return (
        f"core vs plain Keras fit (digit convnet, 6,000 digits, 2 epochs, {REPEATS} "
        f"alternations): fastest {c['core_min']:.2f} s vs {c['plain_min']:.2f} s, ratio "
        f"{c['ratio']:.3f} (goal <= 1.02); medians {c['core_median']:.2f} s vs "
        f"{c['plain_median']:.2f} s, ratio {c['median_ratio']:.3f}; the core's own "
        f"cost (key, store, seeding) {100 * c['own_share']:.1f} % of its trainings"
    )


def main(store_folder: str | None = None) -> None:
    peak = peak_flops()
    print(f"peak: {MATMUL_SIZE}x{MATMUL_SIZE} float32 matmul, {peak / 1e9:.0f} GFLOP/s")
    print(core_line(core_vs_fit()))
    if store_folder:
        from dlbook.training import store

        for line in training_rows(store.read_journal(Path(store_folder)), peak):
            print(line)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
