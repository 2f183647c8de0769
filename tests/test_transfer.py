import numpy as np
import pandas as pd
import pytest
from conftest import missing_data

from dlbook import convnets, data, training, transfer
from dlbook.base.seeding import seed_everything
from dlbook.data import MissingDependencyError, archives


def tiny_convnet(seed):
    return convnets.mnist_convnet(
        input_shape=(18, 18, 1), classes=2, filters=(2, 2, 2), seed=seed
    )


# --- data --------------------------------------------------------------------------------


def test_lfw_faces_are_faces_first():
    faces = data.lfw_faces()
    assert faces.x.shape == (200, 25, 25) and faces.x.dtype == np.float32
    assert faces.x.min() >= 0 and faces.x.max() <= 1
    np.testing.assert_array_equal(faces.y, [1] * 100 + [0] * 100)


def test_grey_to_rgb():
    grey = np.array([[[0.0, 0.5], [1.0, 0.25]]])
    rgb = transfer.grey_to_rgb(grey)
    assert rgb.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(rgb[0, :, :, 1], grey[0] * 255)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    with pytest.raises(ValueError, match=r"images must be \(n, height, width\)"):
        transfer.grey_to_rgb(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        transfer.grey_to_rgb(np.full((1, 2, 2), 255.0))


def test_few_label_split_is_balanced_disjoint_nested_and_seeded():
    labels = np.repeat([0, 1, 2], 20)
    small_train, small_test = transfer.few_label_split(labels, 2, 5, seed=3)
    train, test = transfer.few_label_split(labels, 10, 5, seed=3)
    assert np.bincount(labels[train]).tolist() == [10, 10, 10]
    assert np.bincount(labels[test]).tolist() == [5, 5, 5]
    assert not set(train) & set(test)
    assert set(small_train) <= set(train)  # nested
    np.testing.assert_array_equal(small_test, test)  # same test set for every count
    again = transfer.few_label_split(labels, 10, 5, seed=3)
    np.testing.assert_array_equal(again[0], train)
    other = transfer.few_label_split(labels, 10, 5, seed=4)
    assert set(other[0]) != set(train)
    with pytest.raises(
        ValueError, match="per_class \\+ test_per_class must be at most 20"
    ):
        transfer.few_label_split(labels, 16, 5, seed=0)
    with pytest.raises(ValueError, match="per_class must be a positive int"):
        transfer.few_label_split(labels, 0, 5, seed=0)
    with pytest.raises(ValueError, match="test_per_class must be a positive int"):
        transfer.few_label_split(labels, 1, 2.5, seed=0)


# --- models ---------------------------------------------------------------------------------


def _blocks_model():
    """A tiny functional model with blocks named like EfficientNet's, one with a skip."""
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", name="stem_conv")(inputs)
    y = layers.Conv2D(4, 3, padding="same", name="block1a_conv")(x)
    y = layers.BatchNormalization(name="block1a_bn")(y)
    x = layers.Add(name="block1a_add")([x, y])
    x = layers.Conv2D(6, 1, name="block2a_conv")(x)
    x = layers.BatchNormalization(name="block2a_bn")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, x, name="blocks")


def test_split_at_block_composes_to_the_model():
    seed_everything(0)
    model = _blocks_model()
    x = np.random.default_rng(0).normal(size=(5, 8, 8, 3)).astype("float32")
    for block in ("block1a", "block2a"):
        bottom, top = transfer.split_at_block(model, block)
        np.testing.assert_allclose(
            training.predict(top, training.predict(bottom, x)),
            training.predict(model, x),
            rtol=1e-6,
            atol=1e-6,
        )
    bottom, top = transfer.split_at_block(model, "block2a")
    assert bottom.output.shape[1:] == (8, 8, 4)
    assert model.get_layer("block2a_conv") in top.layers  # shared, not copied
    with pytest.raises(ValueError, match="block 'block9' starts no layer"):
        transfer.split_at_block(model, "block9")
    with pytest.raises(ValueError, match="block must be a non-empty str"):
        transfer.split_at_block(model, "")


def test_predict_batches_like_one_call():
    seed_everything(0)
    model = _blocks_model()
    x = np.random.default_rng(1).normal(size=(7, 8, 8, 3)).astype("float32")
    whole = np.asarray(model(x, training=False))
    np.testing.assert_allclose(
        training.predict(model, x, batch_size=3), whole, atol=1e-6
    )
    with pytest.raises(ValueError, match="x must hold at least one example"):
        training.predict(model, x[:0])
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        training.predict(model, x, batch_size=0)


def test_repeated_batches_use_every_example_equally():
    order = transfer.repeated_batches(4, steps=6, batch_size=2, seed=0)
    assert len(order) == 12
    assert np.bincount(order).tolist() == [3, 3, 3, 3]
    for start in range(0, 12, 4):  # whole passes, each a permutation
        assert sorted(order[start : start + 4]) == [0, 1, 2, 3]
    np.testing.assert_array_equal(order, transfer.repeated_batches(4, 6, 2, seed=0))
    with pytest.raises(ValueError, match="steps must be a positive int"):
        transfer.repeated_batches(4, 0, 2, seed=0)


def test_softmax_head_and_with_head():
    seed_everything(0)
    head = transfer.softmax_head(6, classes=3, seed=1)
    assert head(np.zeros((1, 6), "float32")).shape == (1, 3)
    same = transfer.softmax_head(6, classes=3, seed=1)
    np.testing.assert_array_equal(head.get_weights()[0], same.get_weights()[0])
    model = transfer.with_head(_blocks_model(), head)
    probabilities = training.predict(model, np.zeros((2, 8, 8, 3), "float32"))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match="classes must be at least 2"):
        transfer.softmax_head(6, classes=1)
    with pytest.raises(ValueError, match="width must be a positive int"):
        transfer.softmax_head(0, classes=2)


def test_scores_known_values():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Activation("linear")])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], "float32")
    result = transfer.scores(model, probabilities, np.array([0, 1, 1]))
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4])), rel=1e-5)


def _separable(n=40, seed=0):
    generator = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    x = generator.normal(size=(n, 5)).astype("float32")
    x[:, 0] += 4 * labels - 2
    return x, labels


def test_fit_steps_takes_exactly_the_steps(no_store):
    # the store off: a second run would restore the weights and step no optimizer
    seed_everything(0)
    x, y = _separable()
    head = transfer.softmax_head(5, 2, seed=0)
    transfer.fit_steps(head, x, y, steps=23, batch_size=4, learning_rate=0.1, seed=0)
    assert int(head.optimizer.iterations.numpy()) == 23
    assert transfer.scores(head, x, y)["accuracy"] > 0.9
    with pytest.raises(ValueError, match="pass store_optimizer=True to that fit"):
        transfer.fit_steps(head, x, y, steps=5, seed=0, recompile=False)
    training.reset_optimizer(head)  # as reinitialise does
    transfer.fit_steps(head, x, y, steps=5, batch_size=4, seed=0, recompile=False)
    assert int(head.optimizer.iterations.numpy()) == 5
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        transfer.fit_steps(head, x, y, steps=1, learning_rate=0)
    with pytest.raises(ValueError, match="x and y must be non-empty and of one length"):
        transfer.fit_steps(head, x, y[:3], steps=1)
    with pytest.raises(ValueError, match="recompile=False needs a model"):
        transfer.fit_steps(transfer.softmax_head(5, 2), x, y, steps=1, recompile=False)


def test_reinitialised_model_trains_like_a_fresh_one():
    seed_everything(0)
    x, y = _separable()

    import keras
    from keras import layers

    def tiny(seed):
        keras.utils.set_random_seed(seed)
        stack = [layers.Dense(4, activation="relu"), layers.Dropout(0.5)]
        return keras.Sequential(
            [keras.Input((5,)), *stack, layers.Dense(2, activation="softmax")]
        )

    fresh = transfer.fit_steps(tiny(7), x, y, steps=12, batch_size=8, seed=7)
    reused = transfer.fit_steps(tiny(1), x, y, steps=12, batch_size=8, seed=1)
    transfer.reinitialise(reused, tiny(7))
    transfer.fit_steps(reused, x, y, steps=12, batch_size=8, seed=7, recompile=False)
    for a, b in zip(fresh.get_weights(), reused.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="is not the architecture of model"):
        transfer.reinitialise(reused, transfer.softmax_head(5, 2))


def test_logistic_and_scratch_methods_and_learning_curve():
    seed_everything(0)
    x, y = _separable(60)
    images = np.zeros((60, 18, 18, 1), "float32")
    images[y == 1, :9] = 1.0  # the top half lights up for class 1
    methods = {
        "features": transfer.logistic_method(x, y),
        "scratch": transfer.scratch_method(
            lambda seed: tiny_convnet(seed),
            images,
            y,
            steps=10,
            batch_size=4,
        ),
    }
    runs = transfer.learning_curve(
        methods, y, per_class_counts=(2, 5), seeds=(0, 1), test_per_class=10
    )
    assert len(runs) == 2 * 2 * 2
    assert list(runs.columns) == ["method", "per_class", "seed", "accuracy", "correct"]
    assert runs["accuracy"].between(0, 1).all()
    assert all(c.dtype == bool and len(c) == 20 for c in runs["correct"])
    assert runs["accuracy"].tolist() == [c.mean() for c in runs["correct"]]
    assert runs.query("method == 'features'")["accuracy"].min() > 0.8
    table = transfer.curve_table(runs)
    assert list(table.index) == [2, 5] and list(table.columns) == [
        "features",
        "scratch",
    ]
    with pytest.raises(ValueError, match="methods must name at least one method"):
        transfer.learning_curve({}, y, (2,), (0,), 10)
    with pytest.raises(ValueError, match="features and labels must have one length"):
        transfer.logistic_method(x, y[:5])
    with pytest.raises(ValueError, match="min_epochs must be an int >= 0"):
        transfer.scratch_method(lambda s: None, images, y, min_epochs=-1)


def test_scratch_method_reuse_matches_a_new_method():
    seed_everything(0)
    images = np.random.default_rng(0).random((30, 18, 18, 1)).astype("float32")
    labels = np.arange(30) % 2

    def build(seed):
        return tiny_convnet(seed)

    train, test = transfer.few_label_split(labels, 5, 10, seed=0)
    reused = transfer.scratch_method(build, images, labels, steps=8, batch_size=4)
    reused(train, test, 3)  # compiles the one model
    second = reused(train, test, 5)  # re-initialised, not rebuilt
    alone = transfer.scratch_method(build, images, labels, steps=8, batch_size=4)(
        train, test, 5
    )
    assert np.array_equal(second, alone)


def test_gain_is_paired_by_split():
    runs = pd.DataFrame(
        {
            "method": ["a", "b"] * 4,
            "per_class": [1, 1, 1, 1, 5, 5, 5, 5],
            "seed": [0, 0, 1, 1, 0, 0, 1, 1],
            "accuracy": [0.9, 0.6, 0.8, 0.7, 0.95, 0.9, 0.9, 0.9],
        }
    )
    gain = transfer.gain(runs, "a", "b")
    assert gain.loc[1].tolist() == pytest.approx([0.2, 0.1, 0.3])
    assert gain.loc[5].tolist() == pytest.approx([0.025, 0.0, 0.05])
    with pytest.raises(ValueError, match="no method 'c' in runs"):
        transfer.gain(runs, "a", "c")


def _runs_with_outcomes(a_right, b_right):
    """Learning-curve runs of methods a and b at one count, two splits of 50 tests."""
    rows = []
    for seed in (0, 1):
        for name, right in (("a", a_right), ("b", b_right)):
            correct = np.asarray(right[seed], bool)
            rows.append(
                {
                    "method": name,
                    "per_class": 5,
                    "seed": seed,
                    "accuracy": correct.mean(),
                    "correct": correct,
                }
            )
    return pd.DataFrame(rows)


def test_compare_methods_pairs_the_splits_test_examples():
    every = np.ones(50, bool)
    half = np.arange(50) % 2 == 0
    runs = _runs_with_outcomes([every, every], [half, half])
    assert transfer.outcomes(runs, "a", 5).shape == (100,)
    better = transfer.compare_methods(runs, "a", "b", 5)
    assert better.verdict == "a" and better.difference == pytest.approx(0.5)
    assert better.items == 100 and "block bootstrap (50)" in better.test
    same = transfer.compare_methods(
        _runs_with_outcomes([half, half], [half, half]), "a", "b", 5
    )
    assert same.verdict == "cannot tell"  # an exact tie is never a win
    np.testing.assert_allclose(transfer.split_gains(runs, "a", "b", 5), [0.5, 0.5])
    with pytest.raises(ValueError, match="no run of method 'c'"):
        transfer.compare_methods(runs, "a", "c", 5)
    with pytest.raises(ValueError, match="per-example outcomes"):
        transfer.outcomes(runs.drop(columns="correct"), "a", 5)


def test_learning_curve_wants_right_or_wrong_per_test_example():
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match="must return right/wrong"):
        transfer.learning_curve(
            {"accuracy only": lambda train, test, seed: 0.5}, y, (2,), (0,), 5
        )


def test_plot_learning_curves():
    import matplotlib

    matplotlib.use("Agg")
    from dlbook.book.plotting import figure

    runs = pd.DataFrame(
        {
            "method": ["a", "a", "b", "b"],
            "per_class": [1, 2, 1, 2],
            "seed": [0, 0, 0, 0],
            "accuracy": [0.5, 0.7, 0.6, 0.8],
        }
    )
    _, axes = figure()
    ax = transfer.plot_learning_curves(axes[0, 0], runs, "title", classes=2)
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [2, 4])


# --- batch normalization ----------------------------------------------------------------------


def test_frozen_batchnorm_keeps_its_statistics_and_trainable_one_does_not():
    from dlbook.pretrained import efficientnet_lite as lite

    seed_everything(0)
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(16, 8, 8, 3)).astype("float32")
    y = np.arange(16) % 2
    model = _blocks_model()
    head = transfer.softmax_head(6, 2, seed=0)
    whole = transfer.with_head(model, head)
    before = transfer.batchnorm_state(model)
    assert set(before) == {"block1a_bn", "block2a_bn"}
    lite.set_trainable_from(model, "block1a")  # BN stays frozen
    transfer.fit_steps(whole, x, y, steps=5, batch_size=4, learning_rate=1e-2, seed=0)
    assert transfer.largest_shift(before, transfer.batchnorm_state(model)) == 0.0
    transfer.unfreeze_batchnorm(model, "block2a")
    assert (
        model.get_layer("block2a_bn").trainable
        and not model.get_layer("block1a_bn").trainable
    )
    transfer.fit_steps(whole, x, y, steps=5, batch_size=4, learning_rate=1e-2, seed=0)
    after = transfer.batchnorm_state(model)
    assert transfer.largest_shift(before, after) > 0.01
    np.testing.assert_array_equal(after["block1a_bn"][0], before["block1a_bn"][0])
    with pytest.raises(ValueError, match="snapshots of the same model"):
        transfer.largest_shift(before, {})
    with pytest.raises(ValueError, match="block_prefix 'block7' starts no layer"):
        transfer.unfreeze_batchnorm(model, "block7")


# --- digits and text -----------------------------------------------------------------------------


def test_digit_halves_and_convnet_base():
    source, target = data.digit_halves(seed=0)
    assert source.train[0].shape[1:] == (28, 28, 1)
    assert set(np.unique(source.train[1])) == {0, 1, 2, 3, 4}
    assert set(np.unique(target.y)) == {5, 6, 7, 8, 9}
    assert (
        len(source.train[1]) + len(source.val[1]) + len(source.test[1]) + len(target)
        == 5000
    )
    model = convnets.mnist_convnet(filters=(16, 32, 64), seed=0)
    base = transfer.convnet_base(model)
    assert base.output.shape[1:] == (3 * 3 * 64,)
    assert training.predict(base, target.x[:3]).shape == (3, 576)
    with pytest.raises(ValueError, match="last must start a layer name"):
        transfer.convnet_base(model, "nothing")


def test_the_book_convnet_fits_other_images_and_checks_its_arguments():
    model = convnets.mnist_convnet(
        input_shape=(25, 25, 1), classes=2, filters=(16, 32, 64)
    )
    assert model(np.zeros((1, 25, 25, 1), "float32")).shape == (1, 2)
    with pytest.raises(ValueError, match="filters must give three layer widths"):
        convnets.mnist_convnet(input_shape=(25, 25, 1), classes=2, filters=(8, 8))
    with pytest.raises(ValueError, match="classes must be a positive int"):
        convnets.mnist_convnet(input_shape=(25, 25, 1), classes=0)


def test_bag_of_words_method_learns_from_words():
    texts = np.array(["good fine great", "bad awful poor"] * 10, dtype=object)
    labels = (np.arange(20) % 2 == 0).astype(int)
    run = transfer.bag_of_words_method(texts, labels, c=10.0)
    train, test = transfer.few_label_split(labels, 3, 5, seed=0)
    assert run(train, test, 0).all()


def test_balanced_reviews():
    try:
        reviews = archives.balanced_reviews(per_class=30, seed=1)
    except MissingDependencyError:
        missing_data("the VADER archive is not fetched in this environment")
    assert len(reviews) == 60 and np.bincount(reviews.y).tolist() == [30, 30]
    again = archives.balanced_reviews(per_class=30, seed=1)
    np.testing.assert_array_equal(again.x, reviews.x)
    with pytest.raises(ValueError, match="per_class must be at most"):
        archives.balanced_reviews(per_class=100_000)
