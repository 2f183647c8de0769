"""Deep Q-networks (DQN and Double DQN) for Gymnasium environments with a discrete
action space, trained through the book's training core (:func:`dlbook.training.run`).

The loop alternates two phases, as Stable-Baselines3's tuned CartPole DQN does:
collect ``rollout`` environment steps with an epsilon-greedy policy (acting in NumPy on
a copy of the Q-network's weights, since the network does not change while it acts),
then take ``gradient_steps`` steps of Huber-loss regression on minibatches from the
replay buffer, all of them in one compiled TensorFlow call.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from dlbook.base.seeding import check_seed, reseed
from dlbook.base.validate import (
    in_range,
    integer,
    positive_int,
    positive_number,
    probability,
    shapes_agree,
    static_shape,
)
from dlbook.environments import episode_returns, make


class ReplayBuffer:
    """The last ``capacity`` transitions ``(s, a, r, s', terminated)``, overwritten
    oldest first; minibatches are drawn uniformly from what it holds."""

    def __init__(self, capacity: int, observation_shape, seed: int):
        self.capacity = positive_int("capacity", capacity)
        shape = (self.capacity, *observation_shape)
        self.observations = np.zeros(shape, np.float32)
        self.next_observations = np.zeros(shape, np.float32)
        self.actions = np.zeros(self.capacity, np.int32)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.terminated = np.zeros(self.capacity, np.float32)
        self.size = 0
        self._next = 0
        self._rng = np.random.default_rng(check_seed(seed))

    def __len__(self) -> int:
        return self.size

    def add(self, observation, action, reward, next_observation, terminated) -> None:
        """Store one transition; ``terminated`` is the environment's *terminated* flag,
        not ``terminated or truncated``: a time-limit stop is not an end state."""
        i = self._next
        self.observations[i] = observation
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_observations[i] = next_observation
        self.terminated[i] = float(terminated)
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, *shape: int):
        """Transitions drawn uniformly with replacement, as arrays of leading shape
        ``shape`` (e.g. ``(gradient_steps, batch_size)``)."""
        if self.size == 0:
            raise ValueError("the replay buffer is empty: add transitions first")
        index = self._rng.integers(self.size, size=shape)
        return (
            self.observations[index],
            self.actions[index],
            self.rewards[index],
            self.next_observations[index],
            self.terminated[index],
        )


def epsilon(step, total_steps: int, fraction: float = 0.16, final: float = 0.04):
    """Exploration rate at environment step ``step``: 1 falling linearly to ``final``
    over the first ``fraction`` of ``total_steps``, then constant."""
    total_steps = positive_int("total_steps", total_steps)
    in_range("fraction", fraction, 0, 1, low_open=True)
    probability("final", final)
    if step is None or not np.all(np.asarray(step, float) >= 0):  # NaN fails too
        raise ValueError(
            f"step must be a number >= 0 (or an array of them), got {step!r}"
        )
    progress = np.minimum(np.asarray(step, float) / (fraction * total_steps), 1.0)
    return 1.0 + progress * (final - 1.0)


def td_targets(rewards, terminated, next_q_target, next_q_online=None, gamma=0.99):
    """The regression targets ``r + gamma (1 - terminated) Q'(s', a*)``.

    DQN: ``a*`` maximises the target network's values ``next_q_target``. Double DQN
    (pass ``next_q_online``): the online network picks ``a*`` and the target network
    values it, which removes most of max's upward bias. Works on NumPy arrays and on
    tensors inside the compiled step (checking static shapes only)."""
    from keras import ops

    probability("gamma", gamma)
    shape = static_shape(next_q_target)
    if shape is not None:
        if not shape:
            raise ValueError(
                "next_q_target must hold one value per action, got a scalar"
            )
        for name, value in (("rewards", rewards), ("terminated", terminated)):
            if not shapes_agree(static_shape(value), shape[:-1]):
                raise ValueError(
                    f"{name} must have shape {shape[:-1]}, one per row of next_q_target "
                    f"{shape}, got {static_shape(value)}"
                )
    if next_q_online is not None and not shapes_agree(
        static_shape(next_q_online), shape
    ):
        raise ValueError(
            f"next_q_online must have next_q_target's shape {shape}, got "
            f"{static_shape(next_q_online)}"
        )
    if next_q_online is None:
        best = ops.max(next_q_target, axis=-1)
    else:
        choice = ops.expand_dims(ops.argmax(next_q_online, axis=-1), -1)
        best = ops.squeeze(ops.take_along_axis(next_q_target, choice, axis=-1), -1)
    return rewards + gamma * (1.0 - terminated) * best


def q_network(n_inputs: int, n_actions: int, width: int = 256, depth: int = 2):
    """An MLP from an observation to one Q-value per action (linear output)."""
    import keras

    layers = [keras.Input((positive_int("n_inputs", n_inputs),))]
    layers += [
        keras.layers.Dense(positive_int("width", width), activation="relu")
        for _ in range(positive_int("depth", depth))
    ]
    layers.append(keras.layers.Dense(positive_int("n_actions", n_actions)))
    return keras.Sequential(layers, name="q_network")


def greedy_policy(model):
    """The greedy policy of a :func:`q_network`, computed in NumPy from a copy of its
    weights: acting one step at a time through ``model.predict`` costs milliseconds."""
    weights = [np.asarray(v) for v in model.get_weights()]
    pairs = list(zip(weights[::2], weights[1::2], strict=True))

    def q_values(observations):
        h = np.asarray(observations, np.float32)
        for n, (kernel, bias) in enumerate(pairs):
            h = h @ kernel + bias
            if n < len(pairs) - 1:
                h = np.maximum(h, 0.0)
        return h

    def policy(observations):
        return np.argmax(q_values(observations), axis=-1)

    policy.q_values = q_values
    return policy


def transition(env, buffer: ReplayBuffer, observation, action):
    """Take ``action`` in ``env``, store the transition in ``buffer`` and return
    ``(next observation, reward, episode over)``. The buffer gets the *terminated*
    flag alone: after a time-limit truncation the next state still has a future, so
    its target must bootstrap; the episode is over either way and ``env`` is reset."""
    if not env.action_space.contains(action):
        raise ValueError(f"action must be in {env.action_space}, got {action!r}")
    next_observation, reward, terminated, truncated, _ = env.step(action)
    buffer.add(observation, action, reward, next_observation, terminated)
    if terminated or truncated:
        next_observation, _ = env.reset()
    return next_observation, float(reward), terminated or truncated


def _learner(online, target, learning_rate, gamma, double, target_every, max_norm):
    """The compiled phase of gradient steps: ``batches`` holds ``(steps, batch, ...)``
    arrays; the target network is copied from the online one every ``target_every``
    gradient steps; gradients are clipped to a global norm of ``max_norm``. Returns the
    mean Huber loss."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(learning_rate, global_clipnorm=max_norm)
    optimizer.build(online.trainable_variables)
    huber = keras.losses.Huber()
    counter = tf.Variable(0, dtype=tf.int64)

    @tf.function
    def learn(observations, actions, rewards, next_observations, terminated):
        total = tf.constant(0.0)
        steps = tf.shape(actions)[0]
        for g in tf.range(steps):
            if counter % target_every == 0:
                for t, o in zip(target.variables, online.variables, strict=True):
                    t.assign(o)
            counter.assign_add(1)
            next_q = target(next_observations[g])
            next_online = online(next_observations[g]) if double else None
            y = td_targets(rewards[g], terminated[g], next_q, next_online, gamma)
            with tf.GradientTape() as tape:
                q = online(observations[g])
                chosen = tf.gather(q, actions[g], batch_dims=1)
                loss = huber(tf.stop_gradient(y), chosen)
            grads = tape.gradient(loss, online.trainable_variables)
            optimizer.apply_gradients(
                zip(grads, online.trainable_variables, strict=True)
            )
            total += loss
        return total / tf.cast(steps, tf.float32)

    return learn


def dqn_routine(
    models,
    seed,
    env_name="CartPole-v1",
    total_steps=50_000,
    double=False,
    learning_rate=1e-3,
    gamma=0.99,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1_000,
    rollout=256,
    gradient_steps=128,
    target_every=128,
    max_norm=10.0,
    exploration_fraction=0.16,
    final_epsilon=0.04,
    checkpoints=20,
    checkpoint_episodes=10,
    keep_best=True,
) -> dict:
    """The DQN training loop, run through :func:`dlbook.training.run` (``models`` holds
    the ``online`` and ``target`` networks); its parameters are DQN's settings, their
    defaults those of :func:`train_dqn`. Returns per-episode training returns, the
    step each episode ended at, the loss per learning phase and greedy evaluations
    taken at ``checkpoints`` evenly spaced points (``checkpoint_episodes`` episodes on
    seeds from 10**6 on, which the page's final evaluations do not use). With
    ``keep_best`` the online network ends with the weights of the best checkpoint (the
    latest of equals), as Stable-Baselines3's ``EvalCallback`` keeps its best model."""
    total_steps = positive_int("total_steps", total_steps)
    checkpoints = positive_int("checkpoints", checkpoints)
    online, target = models["online"], models["target"]
    env = make(env_name)
    generator = np.random.default_rng(seed)
    buffer = ReplayBuffer(buffer_size, env.observation_space.shape, seed)
    learn = _learner(
        online, target, learning_rate, gamma, double, target_every, max_norm
    )
    n_actions = int(env.action_space.n)
    observation, _ = env.reset(seed=seed)
    returns, ends, losses, evaluations = [], [], [], []
    episode_return, step = 0.0, 0
    every = max(total_steps // checkpoints, 1)
    best, best_weights = -np.inf, None
    while step < total_steps:
        q_values = greedy_policy(online).q_values
        for _ in range(min(rollout, total_steps - step)):
            if generator.random() < epsilon(
                step, total_steps, exploration_fraction, final_epsilon
            ):
                action = int(generator.integers(n_actions))
            else:
                action = int(np.argmax(q_values(observation[None])[0]))
            observation, reward, over = transition(env, buffer, observation, action)
            episode_return += reward
            step += 1
            if over:
                returns.append(episode_return)
                ends.append(step)
                episode_return = 0.0
            if step % every == 0:
                scores = episode_returns(
                    env_name, greedy_policy(online), checkpoint_episodes, 10**6 + step
                )
                evaluations.append([step, float(scores.mean())])
                if scores.mean() >= best:
                    best, best_weights = scores.mean(), online.get_weights()
        if step >= learning_starts:
            batches = buffer.sample(gradient_steps, batch_size)
            losses.append(float(learn(*batches)))
    env.close()
    final = greedy_policy(online)
    if keep_best and best_weights is not None:
        online.set_weights(best_weights)
    return {
        "final_weights_score": float(
            episode_returns(env_name, final, checkpoint_episodes, 2 * 10**6).mean()
        ),
        "returns": returns,
        "episode_ends": ends,
        "losses": losses,
        "evaluations": evaluations,
    }


@dataclass
class DQNRun:
    """A trained Q-network and what its training recorded."""

    model: object
    returns: np.ndarray
    episode_ends: np.ndarray
    losses: np.ndarray
    evaluations: np.ndarray
    final_weights_score: float
    seconds: float
    restored: bool

    @property
    def policy(self):
        return greedy_policy(self.model)


def _checked_settings(settings: dict) -> dict:
    """``settings`` with :func:`dqn_routine`'s defaults filled in, checked before any
    training: a name that is not one of its parameters, or a bad value, raises."""
    from dlbook.training.core import with_defaults

    names = list(inspect.signature(dqn_routine).parameters)[2:]  # after models, seed
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise TypeError(f"unknown DQN settings {unknown}: the settings are {names}")
    settings = with_defaults(dqn_routine, settings)
    if not isinstance(settings["double"], bool):
        raise TypeError(f"double must be True or False, got {settings['double']!r}")
    probability("gamma", settings["gamma"])
    positive_number("learning_rate", settings["learning_rate"])
    settings["max_norm"] = float(positive_number("max_norm", settings["max_norm"]))
    in_range(
        "exploration_fraction", settings["exploration_fraction"], 0, 1, low_open=True
    )
    probability("final_epsilon", settings["final_epsilon"])
    integer("learning_starts", settings["learning_starts"], minimum=0)
    for name in (
        "total_steps",
        "batch_size",
        "buffer_size",
        "rollout",
        "gradient_steps",
        "target_every",
        "checkpoints",
        "checkpoint_episodes",
    ):
        settings[name] = positive_int(name, settings[name])
    settings["keep_best"] = bool(settings["keep_best"])
    return settings


def train_dqn(
    env_name: str = "CartPole-v1", *, seed: int, width: int = 256, **settings
) -> DQNRun:
    """Train a DQN (``double=True``: Double DQN) on ``env_name`` through the store.

    ``settings`` are :func:`dqn_routine`'s parameters, written once there with their
    defaults: Stable-Baselines3 zoo's tuned CartPole-v1 DQN (50k steps, batch 64, 256
    steps collected then 128 gradient steps, the target network copied before each
    phase, epsilon to 0.04 over the first 16 %, gradients clipped to norm 10), with a
    learning rate of 1e-3 instead of 2.3e-3. ``width``: the Q-network's two hidden
    layers (256, as in the zoo; the page trains 64-64 networks)."""
    from dlbook import training

    settings = _checked_settings({"env_name": env_name, **settings})
    env = make(env_name)
    n_inputs, n_actions = env.observation_space.shape[0], int(env.action_space.n)
    env.close()
    reseed(check_seed(seed))
    online = q_network(n_inputs, n_actions, width)
    target = q_network(n_inputs, n_actions, width)
    result = training.run(
        dqn_routine, {"online": online, "target": target}, seed=seed, **settings
    )
    record = result.record
    return DQNRun(
        online,
        np.asarray(record["returns"]),
        np.asarray(record["episode_ends"]),
        np.asarray(record["losses"]),
        np.asarray(record["evaluations"]).reshape(-1, 2),
        record["final_weights_score"],
        result.seconds,
        result.restored,
    )
