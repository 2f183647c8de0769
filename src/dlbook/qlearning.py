"""Tabular Q-learning on a small discrete Gymnasium environment (FrozenLake).

The table of action values is held by a Keras ``Embedding`` (one row per state, one
column per action: a lookup table is what an embedding is), so the training runs
through the book's training core and its store like every other training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook.base.seeding import check_seed, reseed
from dlbook.base.validate import array, in_range, positive_int, probability
from dlbook.environments import make

#: FrozenLake's actions, in the order of their numbers.
ARROWS = ("←", "↓", "→", "↑")


def q_table_model(n_states: int, n_actions: int):
    """A Keras model that maps a state number to its row of Q-values, all zero."""
    import keras

    states = keras.Input((), dtype="int32", name="state")
    table = keras.layers.Embedding(
        positive_int("n_states", n_states),
        positive_int("n_actions", n_actions),
        embeddings_initializer="zeros",
        name="q_table",
    )
    return keras.Model(states, table(states), name="q_table")


def q_update(table, state, action, reward, next_state, terminated, alpha, gamma):
    """One Q-learning step on ``table`` in place: move Q(s, a) a fraction ``alpha``
    towards ``r + gamma max_a' Q(s', a')`` (just ``r`` when the episode terminated)."""
    in_range("alpha", alpha, 0, 1, low_open=True)
    probability("gamma", gamma)
    future = 0.0 if terminated else gamma * table[next_state].max()
    table[state, action] += alpha * (reward + future - table[state, action])


def q_learning_routine(
    model, seed, env_name, episodes, alpha, gamma, final_epsilon, options
) -> dict:
    """Epsilon-greedy Q-learning for ``episodes`` episodes (epsilon falls linearly
    from 1 to ``final_epsilon`` over the first half), run through
    :func:`dlbook.training.run`. Ties between equal values break at random, so an
    untrained table does not always pick action 0. Returns each episode's return."""
    episodes = positive_int("episodes", episodes)
    env = make(env_name, **options)
    generator = np.random.default_rng(seed)
    table = np.zeros(model.get_layer("q_table").embeddings.shape)
    returns = []
    for episode in range(episodes):
        eps = max(final_epsilon, 1.0 - episode / (episodes / 2))
        state, _ = env.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            row = table[state]
            if generator.random() < eps:
                action = int(generator.integers(len(row)))
            else:
                action = int(generator.choice(np.flatnonzero(row == row.max())))
            next_state, reward, terminated, truncated, _ = env.step(action)
            q_update(table, state, action, reward, next_state, terminated, alpha, gamma)
            state, total, done = next_state, total + reward, terminated or truncated
        returns.append(total)
    env.close()
    model.get_layer("q_table").embeddings.assign(table.astype("float32"))
    return {"returns": returns}


@dataclass
class TabularRun:
    """A learned Q-table (``states x actions``), its greedy policy and the training
    returns."""

    table: np.ndarray
    returns: np.ndarray
    seconds: float

    def policy(self, states):
        """The greedy action of each state in ``states``."""
        return np.argmax(self.table[np.asarray(states, int)], axis=-1)


def train_q_table(
    env_name: str = "FrozenLake-v1",
    *,
    seed: int,
    episodes: int = 10_000,
    alpha: float = 0.1,
    gamma: float = 0.99,
    final_epsilon: float = 0.05,
    **options,
) -> TabularRun:
    """Q-learning on ``env_name`` (extra ``options`` go to ``gymnasium.make``, e.g.
    ``is_slippery=False``) through the store."""
    from dlbook import training

    in_range("alpha", alpha, 0, 1, low_open=True)
    probability("gamma", gamma)
    probability("final_epsilon", final_epsilon)
    env = make(env_name, **options)
    shape = int(env.observation_space.n), int(env.action_space.n)
    env.close()
    reseed(check_seed(seed))
    model = q_table_model(*shape)
    result = training.run(
        q_learning_routine,
        model,
        seed=seed,
        env_name=env_name,
        episodes=positive_int("episodes", episodes),
        alpha=alpha,
        gamma=gamma,
        final_epsilon=final_epsilon,
        options=options,
    )
    table = model.get_layer("q_table").embeddings.numpy()
    return TabularRun(table, np.asarray(result.record["returns"]), result.seconds)


def draw_q_table(ax, table, desc) -> None:
    """The learned values on the lake's grid: colour = the best action's value, arrow
    = the greedy action, holes and the goal marked (``desc`` is the env's map)."""
    letters = np.asarray(desc).astype(str)
    if letters.ndim != 2:
        raise ValueError(
            f"desc must be the lake's map, rows of letters, got {desc!r:.60}"
        )
    rows, cols = letters.shape
    table = array("table", table, ndim=2)
    if len(table) != rows * cols:
        raise ValueError(
            f"table must have one row per cell of desc ({rows} x {cols}), got shape "
            f"{table.shape}"
        )
    best = table.max(axis=1).reshape(rows, cols)
    image = ax.imshow(best, cmap="viridis", vmin=0, vmax=max(best.max(), 1e-9))
    for r in range(rows):
        for c in range(cols):
            letter = letters[r, c]
            label = (
                letter
                if letter in "HG"
                else f"{ARROWS[int(table[r * cols + c].argmax())]}"
            )
            colour = "white" if best[r, c] < 0.6 * best.max() else "black"
            ax.text(c, r, label, ha="center", va="center", fontsize=14, color=colour)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label="max Q(s, a)")
