import numpy as np
import pytest

from dlbook import forecasting, recurrent


@pytest.mark.parametrize("cell", recurrent.CELLS)
@pytest.mark.parametrize(("units", "input_dim"), [(1, 1), (32, 8), (7, 3)])
def test_param_formula_matches_keras(cell, units, input_dim):
    ours = recurrent.rnn_params(cell, units, input_dim)
    assert ours == recurrent.keras_rnn_params(cell, units, input_dim)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("RNN", 4, 1), "cell must be"),
        (("LSTM", 0, 1), "units"),
        (("GRU", 4, 1.5), "input_dim"),
    ],
)
def test_param_formula_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        recurrent.rnn_params(*args)


def test_adding_problem_target_is_the_sum_of_the_two_marked_values():
    x, y = recurrent.adding_problem(200, 30, seed=2)
    assert x.shape == (200, 30, 2) and y.shape == (200,)
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    first = np.argmax(markers, axis=1)
    assert first.max() < 3  # the early marker sits in the first tenth
    np.testing.assert_allclose((x[:, :, 0] * markers).sum(axis=1), y, rtol=1e-6)
    # always answering 1 scores about the documented baseline
    assert abs(np.mean((y - 1) ** 2) - recurrent.ADDING_BASELINE_MSE) < 0.05
    np.testing.assert_array_equal(
        recurrent.adding_problem(200, 30, seed=2)[1], y
    )  # seeded


@pytest.mark.parametrize(
    ("n", "length", "match"), [(0, 10, "n must"), (5, 1, "at least 2")]
)
def test_adding_problem_rejects_bad_arguments(n, length, match):
    with pytest.raises(ValueError, match=match):
        recurrent.adding_problem(n, length)


def test_gradient_norms_see_only_the_steps_the_model_uses():
    import keras

    # a model that reads only the last time step: earlier steps get zero gradient
    model = keras.Sequential(
        [
            keras.Input((6, 2)),
            keras.layers.Cropping1D((5, 0)),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    x = np.random.default_rng(0).random((4, 6, 2)).astype("float32")
    norms = recurrent.input_gradient_norms(model, x, np.ones((4, 1), "float32"), "mse")
    assert norms.shape == (6,)
    assert np.all(norms[:5] == 0) and norms[5] > 0


def test_windows_never_include_their_target():
    series = np.arange(20, dtype=np.float32)
    w = forecasting.windows(series, lookback=4, horizon=2)
    assert w.x.shape == (15, 4, 1)
    for x, y, t in zip(w.x, w.y, w.target_index, strict=True):
        assert (
            y == series[t] and x[-1, 0] == series[t - 2]
        )  # the last input is 2 steps back
        assert x.max() < y  # on a rising series, every input is strictly in the past


def test_split_by_time_keeps_order_and_does_not_shuffle():
    series = np.arange(100, dtype=np.float32)
    train, val, test = forecasting.split_by_time(
        forecasting.windows(series, 5), len(series)
    )
    assert train.target_index.max() < val.target_index.min()
    assert val.target_index.max() < test.target_index.min()
    assert np.all(np.diff(train.target_index) == 1)
    assert train.target_index.max() == 59 and test.target_index.min() == 80


def test_naive_forecast_is_the_last_value():
    x = np.array([[[1.0], [2.0], [5.0]], [[0.0], [0.0], [-1.0]]])
    np.testing.assert_array_equal(forecasting.naive_forecast(x), [5.0, -1.0])
    assert forecasting.mae([1, 2], [2, 4]) == 1.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lookback": 0}, "lookback"),
        ({"horizon": -1}, "horizon"),
        ({"lookback": 30}, "longer"),
    ],
)
def test_windows_reject_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        forecasting.windows(np.arange(10.0), **{"lookback": 3, **kwargs})


def test_forecaster_kinds_and_relative_inputs_beat_absolute_on_a_trend():
    with pytest.raises(ValueError, match="kind must be one of"):
        forecasting.forecaster("transformer", 8)
    t = np.arange(400, dtype=np.float32)
    series = 0.05 * t + np.sin(t / 3)  # trend + cycle: test levels above training ones
    train, val, test = forecasting.split_by_time(
        forecasting.windows(series, 8), len(series)
    )
    relative = forecasting.fit_forecaster(
        "dense", train, val, test, relative=True, epochs=15
    )
    absolute = forecasting.fit_forecaster(
        "dense", train, val, test, relative=False, epochs=15
    )
    assert relative.test_mae < absolute.test_mae


def test_memory_experiment_table_models_and_figures():
    result = recurrent.memory_experiment(
        [4, 6], n_train=32, n_test=16, units=4, epochs=1
    )
    assert list(result.mse.columns) == list(recurrent.CELLS) and list(
        result.mse.index
    ) == [4, 6]
    assert (result.mse > 0).all().all()
    assert set(result.models) == {(c, n) for c in recurrent.CELLS for n in (4, 6)}
    x, y = recurrent.adding_problem(8, 6, seed=3)
    models = {c: result.models[(c, 6)] for c in recurrent.CELLS}
    profile = recurrent.gradient_profiles(models, x, y)
    assert profile.shape == (6, 3) and list(profile.index) == [1, 2, 3, 4, 5, 6]
    assert len(recurrent.plot_gradient_profiles({"a": profile, "b": profile}).axes) == 2
    assert len(recurrent.draw_unrolled(steps=3).axes) == 1


def test_early_to_last_ratio_and_its_wording():
    import pandas as pd

    profile = pd.DataFrame(
        {"flat": [1.0] * 20, "fading": [1e-9] * 2 + [1.0] * 17 + [2.0]}
    )
    ratio = recurrent.early_to_last(profile)
    assert ratio["flat"] == 1.0 and ratio["fading"] == 5e-10
    assert [recurrent.as_power(r) for r in (0.0, 5e-10, 0.688)] == [
        "0",
        "5e-10",
        "0.69",
    ]
    with pytest.raises(ValueError, match="share"):
        recurrent.early_to_last(profile, share=1.5)


def test_seasonal_naive_copies_the_value_one_period_back():
    series = np.arange(100.0)
    np.testing.assert_array_equal(
        forecasting.seasonal_naive(series, np.array([52, 60, 99])), [0.0, 8.0, 47.0]
    )


def test_linear_ar_recovers_a_known_autoregression_and_uses_only_its_lags():
    # x_t = x_{t-1} + 0.5 (x_{t-2} - x_{t-1}) + 0.1: change = 0.5 * (lag 2 - lag 1) + 0.1
    series = [0.0, 1.0]
    for _ in range(60):
        series.append(series[-1] + 0.5 * (series[-2] - series[-1]) + 0.1)
    w = forecasting.windows(np.array(series), lookback=4)
    model = forecasting.fit_linear_ar(w, lags=[2])
    np.testing.assert_allclose(model.weights, [0.5, 0.1], atol=1e-4)
    np.testing.assert_allclose(model.predict(w), w.y, atol=1e-4)
    assert forecasting.fit_linear_ar(w).lags == (2, 3, 4)  # the whole window
    short = forecasting.windows(np.array(series), lookback=2)
    with pytest.raises(ValueError, match="lags reach"):
        model_far = forecasting.fit_linear_ar(w, lags=[4])
        model_far.predict(short)
