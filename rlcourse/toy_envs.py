"""Tiny deterministic environments for tests, doctests and exercise checks.

They behave like an ALE game where it matters to the wrappers (image frames, lives in
``info``, a NOOP/FIRE action set, terminal steps) but every value is predictable, so a
test can say exactly what a wrapper must return.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

ACTION_MEANINGS = ["NOOP", "FIRE", "RIGHT", "LEFT"]


def frame_at(t: int, shape: tuple[int, ...]) -> np.ndarray:
    """The frame :class:`FrameCounterEnv` shows after ``t`` frames.

    Pixels are ``(37 * t + pixel_index) % 256``, so two consecutive frames differ at every
    pixel and their element-wise max is neither of them: max-pooling bugs show.

    >>> frame_at(1, (2, 3))
    array([[37, 38, 39],
           [40, 41, 42]], dtype=uint8)
    """
    index = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return ((37 * t + index) % 256).astype(np.uint8)


class FrameCounterEnv(gym.Env[np.ndarray, int]):
    """A fake one-frame-per-step game whose frames, rewards and lives follow the clock.

    - observation after ``t`` frames (``t = 0`` right after reset): ``frame_at(t, shape)``
      shifted by the number of resets, so two episodes never show the same frame;
    - reward of the step that leads to frame ``t``: ``float(t)``;
    - a life is lost every ``life_length`` frames (``info["lives"]`` counts down);
    - ``terminated`` at frame ``episode_length`` (or when the last life is lost);
    - ``truncated`` at frame ``truncate_at`` when set.

    Every action taken is appended to :attr:`actions`, and :attr:`resets` counts resets.

    >>> env = FrameCounterEnv(shape=(4, 4), episode_length=5)
    >>> env.observation_space
    Box(0, 255, (4, 4), uint8)
    >>> obs, info = env.reset(seed=0)
    >>> info
    {'lives': 3, 'frame': 0}
    >>> obs, reward, terminated, truncated, info = env.step(0)
    >>> reward, terminated, truncated, info["frame"]
    (1.0, False, False, 1)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        shape: tuple[int, ...] = (210, 160),
        episode_length: int = 100,
        life_length: int | None = None,
        lives: int = 3,
        truncate_at: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.shape = tuple(shape)
        self.episode_length = episode_length
        self.life_length = life_length
        self.start_lives = lives
        self.truncate_at = truncate_at
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0, 255, self.shape, np.uint8)
        self.action_space = gym.spaces.Discrete(len(ACTION_MEANINGS))  # type: ignore[assignment]
        self.actions: list[int] = []
        self.resets = 0
        self.t = 0
        self.lives = lives

    def get_action_meanings(self) -> list[str]:
        return list(ACTION_MEANINGS)

    def _obs(self) -> np.ndarray:
        # 1000 frames per episode offset: no frame repeats across resets.
        return frame_at(self.t + 1000 * self.resets, self.shape)

    def _info(self) -> dict[str, Any]:
        return {"lives": self.lives, "frame": self.t}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.resets += 1
        self.t = 0
        self.lives = self.start_lives
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.actions.append(int(action))
        self.t += 1
        if self.life_length and self.t % self.life_length == 0:
            self.lives -= 1
        terminated = self.t >= self.episode_length or self.lives <= 0
        truncated = self.truncate_at is not None and self.t >= self.truncate_at
        return self._obs(), float(self.t), terminated, truncated, self._info()

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        gray = self._obs() if len(self.shape) == 2 else self._obs()[..., 0]
        return np.repeat(gray[..., None], 3, axis=-1)


class ChainEnv(gym.Env[np.ndarray, int]):
    """A corridor of ``n_states`` cells: action 1 moves right, 0 left; the right end pays 1.

    Observations are one-hot float32 vectors. Reaching the last cell gives reward 1 and
    ``terminated``; after ``max_steps`` steps the episode is ``truncated``. The optimal
    values are known in closed form (:meth:`optimal_q`), so a learner can be checked exactly.

    >>> env = ChainEnv(n_states=4)
    >>> env.reset(seed=0)[0]
    array([1., 0., 0., 0.], dtype=float32)
    >>> [env.step(1)[1:3] for _ in range(3)]
    [(0.0, False), (0.0, False), (1.0, True)]
    """

    def __init__(self, n_states: int = 5, max_steps: int = 50) -> None:
        self.n_states = n_states
        self.max_steps = max_steps
        self.observation_space = gym.spaces.Box(0.0, 1.0, (n_states,), np.float32)
        self.action_space = gym.spaces.Discrete(2)  # type: ignore[assignment]
        self.position = 0
        self.t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n_states, np.float32)
        obs[self.position] = 1.0
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.position, self.t = 0, 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        move = 1 if int(action) == 1 else -1
        self.position = min(max(self.position + move, 0), self.n_states - 1)
        terminated = self.position == self.n_states - 1
        truncated = not terminated and self.t >= self.max_steps
        return self._obs(), float(terminated), terminated, truncated, {}

    def optimal_q(self, gamma: float) -> np.ndarray:
        """``Q*(s, a)`` for the non-terminal cells, shape ``(n_states - 1, 2)``."""
        value = np.array([gamma ** (self.n_states - 2 - s) for s in range(self.n_states - 1)])
        q = np.zeros((self.n_states - 1, 2))
        q[:, 1] = value
        q[:, 0] = gamma * value[np.maximum(np.arange(self.n_states - 1) - 1, 0)]
        return q
