import numpy as np
import pytest

from dlbook import last_layer
from dlbook.models import dense_network


def test_memo_table_matches_the_notes():
    pairs = {(r.problem, r.activation, r.loss) for r in last_layer.MEMO_TABLE}
    assert ("Binary classification", "sigmoid", "binary_crossentropy") in pairs
    assert ("Regression to arbitrary values", None, "mse") in pairs
    assert {r.task for r in last_layer.MEMO_TABLE} == set(last_layer.TASKS)


def test_metrics_on_known_answers():
    y = np.array([[1, 0, 1], [0, 1, 0]], dtype=float)
    assert (
        last_layer.exact_match(y, np.array([[0.9, 0.1, 0.8], [0.2, 0.9, 0.6]])) == 0.5
    )
    assert (
        last_layer.categorical_accuracy(y[:, :2], np.array([[0.7, 0.3], [0.6, 0.4]]))
        == 0.5
    )
    assert last_layer.binary_accuracy([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.1]) == 0.75
    assert last_layer.mean_absolute_error([1.0, 2.0], [2.0, 2.0], scale=10) == 5.0
    assert last_layer.labels_per_image(np.array([[0.6, 0.7, 0.1]])).tolist() == [2]


def test_dense_network_shape_and_last_activation():
    model = dense_network(8, 3, "softmax", hidden=(4,))
    out = np.asarray(model(np.zeros((2, 8), "float32")))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_inputs": 0}, "n_inputs"),
        ({"n_outputs": 2.0}, "n_outputs"),
        ({"hidden": (4, -1)}, "hidden"),
    ],
)
def test_dense_network_rejects_bad_sizes(kwargs, name):
    args = {"n_inputs": 4, "n_outputs": 1, "activation": None, **kwargs}
    with pytest.raises(ValueError, match=name):
        dense_network(**args)


def test_unknown_task_is_rejected():
    with pytest.raises(ValueError, match="task must be one of"):
        last_layer.prepare_task("ranking")


@pytest.mark.parametrize("name", sorted(last_layer.TASKS))
def test_tasks_are_split_without_overlap(name):
    task = last_layer.prepare_task(name, seed=0)
    sizes = [len(part[0]) for part in (task.train, task.val, task.test)]
    assert all(size > 0 for size in sizes)
    assert task.n_inputs == task.train[0].reshape(len(task.train[0]), -1).shape[1]
    assert task.train[0].dtype == np.float32


def test_matching_pair_learns_and_one_unit_softmax_cannot():
    task = last_layer.prepare_task("binary", seed=0)
    good = last_layer.train_and_score(task, "sigmoid", "binary_crossentropy", epochs=5)
    with pytest.warns(UserWarning, match="softmax over axis -1 of a tensor of shape"):
        bad = last_layer.train_and_score(
            task, "softmax", "binary_crossentropy", epochs=5
        )
    assert good.after > 0.85
    assert bad.after == pytest.approx(float(task.test[1].mean()))
    table = last_layer.results_table(
        last_layer.MEMO_TABLE[:1], {"binary": task}, [good]
    )
    assert table.loc[0, "After"] == round(good.after, 3)


def test_stable_softmax_and_log_sum_exp_where_the_formula_overflows():
    big = np.array([[1000.0, 999.0, 998.0], [0.0, 1.0, 2.0]])
    assert np.isnan(last_layer.naive_softmax(big)[0]).all()
    np.testing.assert_allclose(
        last_layer.naive_softmax(big)[1], last_layer.stable_softmax(big)[1], rtol=1e-6
    )
    np.testing.assert_allclose(
        last_layer.stable_softmax(big)[0],
        last_layer.stable_softmax(big)[1][::-1],
        rtol=1e-6,
    )
    lse = last_layer.log_sum_exp(big)
    np.testing.assert_allclose(lse[1], np.log(np.exp([0.0, 1.0, 2.0]).sum()), rtol=1e-6)
    np.testing.assert_allclose(lse[0], 1000 + lse[1] - 2, rtol=1e-6)


def test_crossentropy_gradient_is_p_minus_y():
    z = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    gradient, p = last_layer.crossentropy_gradient(z, y)
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(gradient, p - y, atol=1e-6)
    assert (
        gradient[0, 1] < -0.9
    )  # the true class, given little probability, is pushed up
