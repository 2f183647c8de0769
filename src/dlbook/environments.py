"""Gymnasium environments for the reinforcement-learning page: making them (headless,
seeded), running a policy over many seeded episodes at once, and recording frames.

A *policy* here is a function from a batch of observations (``(n, ...)`` array) to a
batch of actions, so that one call decides for many environments stepping in lockstep.
"""

from __future__ import annotations

import os

import numpy as np

from dlbook.base.seeding import check_seed
from dlbook.base.validate import positive_int


def make(name: str, render: bool = False, **options):
    """``gymnasium.make(name)``; with ``render=True`` its frames come back as RGB arrays
    from ``env.render()``. pygame draws them without a display (``SDL_VIDEODRIVER`` is
    set to ``dummy`` unless you chose a driver)."""
    from dlbook.data import require

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    gymnasium = require("gymnasium", "gymnasium")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a Gymnasium environment id, got {name!r}")
    mode = {"render_mode": "rgb_array"} if render else {}
    return gymnasium.make(name, **mode, **options)


def random_policy(n_actions: int, seed: int):
    """A policy that picks uniformly among ``n_actions`` actions, from its own seeded
    generator."""
    n_actions = positive_int("n_actions", n_actions)
    generator = np.random.default_rng(check_seed(seed))

    def policy(observations):
        return generator.integers(n_actions, size=len(observations))

    return policy


def episode_returns(
    name: str, policy, episodes: int, seed: int, **options
) -> np.ndarray:
    """The undiscounted return of ``episodes`` episodes of ``policy``, episode ``i``
    reset with ``seed + i``. The episodes run side by side (one environment each), so
    the policy is called once per time step for all of them."""
    episodes, seed = positive_int("episodes", episodes), check_seed(seed)
    envs = [make(name, **options) for _ in range(episodes)]
    observations = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    returns = np.zeros(episodes)
    running = np.ones(episodes, bool)
    while running.any():
        active = np.flatnonzero(running)
        actions = np.asarray(policy(observations[active]))
        for i, action in zip(active, actions, strict=True):
            observation, reward, terminated, truncated, _ = envs[i].step(int(action))
            returns[i] += reward
            observations[i] = observation
            running[i] = not (terminated or truncated)
    for env in envs:
        env.close()
    return returns


def first_observations(name: str, episodes: int, seed: int) -> np.ndarray:
    """The first observation of each of the episodes :func:`episode_returns` plays
    with the same ``episodes`` and ``seed``."""
    episodes = positive_int("episodes", episodes)
    env = make(name)
    first = [env.reset(seed=check_seed(seed) + i)[0] for i in range(episodes)]
    env.close()
    return np.stack(first)


def frames(name: str, policy, seed: int, max_steps: int = 500, every: int = 1):
    """Play one episode of ``policy`` (reset with ``seed``) and return every
    ``every``-th rendered frame (RGB arrays) and the episode's return."""
    max_steps, every = (
        positive_int("max_steps", max_steps),
        positive_int("every", every),
    )
    env = make(name, render=True)
    observation, _ = env.reset(seed=check_seed(seed))
    shots, total = [env.render()], 0.0
    for step in range(max_steps):
        action = int(np.asarray(policy(observation[None]))[0])
        observation, reward, terminated, truncated, _ = env.step(action)
        total += reward
        if (step + 1) % every == 0 or terminated or truncated:
            shots.append(env.render())
        if terminated or truncated:
            break
    env.close()
    return shots, total
