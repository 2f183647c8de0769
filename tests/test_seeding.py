import numpy as np
import pytest

from dlbook.base import seeding


def test_same_seed_gives_same_numbers():
    import keras

    seeding.seed_everything(7)
    first = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    seeding.seed_everything(7)
    second = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_same_seed_gives_same_trained_weights():
    import keras

    def train():
        seeding.seed_everything(3)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile("adam", "mse")
        x = np.random.rand(32, 4).astype("float32")
        model.fit(x, x[:, :2], epochs=2, verbose=0)
        return model.get_weights()[0]

    np.testing.assert_array_equal(train(), train())


def test_different_seeds_differ():
    seeding.seed_everything(1)
    a = np.random.rand(4)
    seeding.seed_everything(2)
    assert not np.array_equal(a, np.random.rand(4))


def test_rng_is_independent_of_global_state():
    np.random.seed(0)
    a = seeding.rng(5).random(3)
    np.random.seed(99)
    np.testing.assert_array_equal(a, seeding.rng(5).random(3))


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "3", None, True])
def test_bad_seed_is_rejected_by_name(bad):
    with pytest.raises((TypeError, ValueError), match="seed"):
        seeding.seed_everything(bad)


def test_a_seed_of_none_is_the_pages_seed():
    assert seeding.current_seed() == seeding.DEFAULT_SEED  # outside a page
    seeding.seed_everything(7)
    assert seeding.current_seed() == 7
    assert seeding.resolve_seed(None) == 7
    assert seeding.resolve_seed(3) == 3
    np.testing.assert_array_equal(seeding.rng().random(3), seeding.rng(7).random(3))
    with pytest.raises(ValueError, match="seed"):
        seeding.resolve_seed(-1)


def test_the_pages_seed_reaches_a_training_that_names_none(no_store):
    import keras

    from dlbook import training

    def model():
        seeding.reseed(7)  # the same starting weights each time
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    x = np.ones((8, 2), "float32")
    seeding.seed_everything(7)
    implicit = training.fit(model(), (x, x[:, :1]), loss="mse", epochs=1)
    explicit = training.fit(model(), (x, x[:, :1]), loss="mse", epochs=1, seed=7)
    other = training.fit(model(), (x, x[:, :1]), loss="mse", epochs=1, seed=8)
    assert implicit.key == explicit.key != other.key


def test_no_dlbook_seed_defaults_to_a_number():
    """One convention: every ``seed`` argument in dlbook is required or defaults to
    None (the page's seed), never to a fixed number such as 0."""
    import ast
    from pathlib import Path

    import dlbook

    fixed = []
    for path in Path(dlbook.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if node.name == "seed_everything":  # where a page's seed starts
                continue
            positional = node.args.posonlyargs + node.args.args
            defaults = dict(
                zip(
                    [a.arg for a in positional][
                        len(positional) - len(node.args.defaults) :
                    ],
                    node.args.defaults,
                    strict=True,
                )
            )
            defaults.update(
                {
                    a.arg: d
                    for a, d in zip(
                        node.args.kwonlyargs, node.args.kw_defaults, strict=True
                    )
                    if d is not None
                }
            )
            default = defaults.get("seed")
            if default is not None and ast.unparse(default) != "None":
                fixed.append(
                    f"{path.name}:{node.lineno} {node.name}(seed={ast.unparse(default)})"
                )
    assert not fixed, fixed
