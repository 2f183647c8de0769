import numpy as np
import pytest

from dlbook import dqn, environments, qlearning


def filled(capacity, n, seed=0):
    buffer = dqn.ReplayBuffer(capacity, (2,), seed=seed)
    for i in range(n):
        buffer.add([i, -i], i % 2, float(i), [i + 1, -i - 1], i % 3 == 0)
    return buffer


def test_replay_buffer_keeps_the_last_capacity_transitions():
    buffer = filled(5, 3)
    assert len(buffer) == 3
    observations, *_ = buffer.sample(200)
    assert set(observations[:, 0]) == {0, 1, 2}  # never an empty slot
    buffer = filled(5, 12)  # wrapped around twice: 7..11 remain
    assert len(buffer) == 5 and buffer.capacity == 5
    observations, actions, rewards, next_observations, terminated = buffer.sample(4000)
    assert set(observations[:, 0]) == {7, 8, 9, 10, 11}  # no stale entry survives
    # every field of a sampled transition belongs to the same transition
    np.testing.assert_array_equal(rewards, observations[:, 0])
    np.testing.assert_array_equal(next_observations[:, 0], observations[:, 0] + 1)
    np.testing.assert_array_equal(actions, observations[:, 0].astype(int) % 2)
    np.testing.assert_array_equal(terminated, (observations[:, 0] % 3 == 0))


def test_replay_buffer_samples_uniformly():
    buffer = filled(10, 10, seed=3)
    observations, *_ = buffer.sample(100, 100)
    assert observations.shape == (100, 100, 2)
    counts = np.bincount(observations[..., 0].astype(int).ravel(), minlength=10)
    # 10,000 draws: each count is 1,000 +- 30 (binomial sd); 5 sd either way
    assert np.all(np.abs(counts - 1000) < 150), counts


def test_replay_buffer_rejects_bad_use():
    with pytest.raises(ValueError, match="capacity"):
        dqn.ReplayBuffer(0, (2,), seed=0)
    with pytest.raises(ValueError, match="empty"):
        dqn.ReplayBuffer(3, (2,), seed=0).sample(1)


def test_td_targets_by_hand():
    rewards = np.array([1.0, 1.0, 1.0], "float32")
    terminated = np.array([0.0, 1.0, 0.0], "float32")  # the third was truncated
    next_target = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]], "float32")
    next_online = np.array([[5.0, 0.0], [0.0, 1.0], [0.0, 1.0]], "float32")
    dqn_y = dqn.td_targets(rewards, terminated, next_target, gamma=0.9)
    np.testing.assert_allclose(dqn_y, [1 + 0.9 * 2, 1.0, 1 + 0.9 * 5], rtol=1e-6)
    # Double DQN: the online net picks actions 0, 1, 1; the target net values them
    double_y = dqn.td_targets(rewards, terminated, next_target, next_online, gamma=0.9)
    np.testing.assert_allclose(double_y, [1 + 0.9 * 1, 1.0, 1 + 0.9 * 0], rtol=1e-6)


def test_truncation_is_stored_as_not_terminated():
    env = environments.make("CartPole-v1", max_episode_steps=3)
    buffer = dqn.ReplayBuffer(10, env.observation_space.shape, seed=0)
    observation, _ = env.reset(seed=0)
    overs = []
    for action in (0, 1, 0):
        observation, _, over = dqn.transition(env, buffer, observation, action)
        overs.append(over)
    assert overs == [False, False, True]  # the time limit ended the episode...
    assert buffer.terminated[:3].tolist() == [0.0, 0.0, 0.0]  # ...not a terminal state
    # a real termination: push the pole one way until it falls
    env = environments.make("CartPole-v1")
    observation, _ = env.reset(seed=0)
    over = False
    while not over:
        observation, _, over = dqn.transition(env, buffer, observation, 1)
    assert buffer.terminated[(buffer._next - 1) % 10] == 1.0


def test_epsilon_schedule():
    assert dqn.epsilon(0, 1000, 0.5, 0.1) == 1.0
    assert dqn.epsilon(250, 1000, 0.5, 0.1) == pytest.approx(0.55)
    assert dqn.epsilon(500, 1000, 0.5, 0.1) == pytest.approx(0.1)
    assert dqn.epsilon(999, 1000, 0.5, 0.1) == pytest.approx(0.1)
    np.testing.assert_allclose(dqn.epsilon(np.array([0, 500]), 1000, 0.5, 0.0), [1, 0])
    with pytest.raises(ValueError, match="fraction"):
        dqn.epsilon(0, 1000, 0.0)
    with pytest.raises(ValueError, match="final"):
        dqn.epsilon(0, 1000, 0.5, 1.5)


def test_greedy_policy_matches_the_keras_network():
    model = dqn.q_network(4, 2, width=16)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    policy = dqn.greedy_policy(model)
    np.testing.assert_allclose(policy.q_values(x), model(x).numpy(), atol=1e-5)
    np.testing.assert_array_equal(policy(x), model(x).numpy().argmax(axis=1))


def test_random_policy_returns_are_seeded():
    policy = environments.random_policy(2, seed=5)
    first = environments.episode_returns("CartPole-v1", policy, 5, seed=10)
    again = environments.episode_returns(
        "CartPole-v1", environments.random_policy(2, seed=5), 5, seed=10
    )
    np.testing.assert_array_equal(first, again)
    assert first.min() >= 8  # CartPole gives +1 per step and lasts at least 8 steps
    with pytest.raises(ValueError, match="episodes"):
        environments.episode_returns("CartPole-v1", policy, 0, seed=1)


def test_make_rejects_a_bad_name_and_renders_headless():
    with pytest.raises(ValueError, match="name"):
        environments.make("")
    shots, total = environments.frames(
        "CartPole-v1", environments.random_policy(2, 0), seed=1, every=5
    )
    assert shots[0].shape == (400, 600, 3) and shots[0].dtype == np.uint8
    assert total >= 8 and len(shots) >= 2


def test_dqn_training_is_deterministic_and_seeded(no_store):
    options = dict(
        total_steps=600,
        width=16,
        learning_starts=200,
        rollout=100,
        gradient_steps=20,
        checkpoints=2,
        checkpoint_episodes=2,
    )
    first = dqn.train_dqn(seed=3, **options)
    again = dqn.train_dqn(seed=3, **options)
    other = dqn.train_dqn(seed=4, **options)
    np.testing.assert_array_equal(first.returns, again.returns)
    np.testing.assert_array_equal(first.losses, again.losses)
    for a, b in zip(first.model.get_weights(), again.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(first.losses) == 5  # a learning phase after steps 200, 300, ..., 600
    assert not np.array_equal(first.returns, other.returns)
    with pytest.raises(TypeError, match="double"):
        dqn.train_dqn(seed=3, double="yes")


def test_q_update_by_hand():
    table = np.zeros((3, 2))
    table[2] = [0.5, 1.0]
    qlearning.q_update(table, 0, 1, 0.0, 2, False, alpha=0.5, gamma=0.9)
    assert table[0, 1] == pytest.approx(0.5 * 0.9 * 1.0)
    qlearning.q_update(table, 1, 0, 1.0, 2, True, alpha=0.5, gamma=0.9)
    assert table[1, 0] == pytest.approx(0.5)  # terminated: no bootstrap


def test_q_learning_solves_the_deterministic_lake(no_store):
    run = qlearning.train_q_table(seed=0, episodes=400, is_slippery=False)
    returns = environments.episode_returns(
        "FrozenLake-v1", run.policy, 10, seed=0, is_slippery=False
    )
    assert returns.mean() == 1.0  # the greedy policy reaches the goal every time
    assert run.table.shape == (16, 4)
    with pytest.raises(ValueError, match="alpha"):
        qlearning.train_q_table(seed=0, alpha=0)
