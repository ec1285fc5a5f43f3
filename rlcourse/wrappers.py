"""The course's Atari preprocessing wrappers, written for Gymnasium 1.x.

They are the wrappers of the DQN papers (Mnih et al. 2015) as the classic Lapan-style
tutorials wrote them, ported to the 5-tuple ``step`` and ``(obs, info)`` reset.
:func:`rlcourse.envs.make_atari_env` stacks them in the standard order; each can also be
used on its own. Every wrapper sets its ``observation_space`` in ``__init__``.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import cv2
import gymnasium as gym
import numpy as np
from gymnasium.spaces import Box

from rlcourse.config import check_number

StepResult = tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    return check_number(name, value, integer=True, low=minimum)


def _image_space(env: gym.Env, wrapper: str) -> Box:
    space = env.observation_space
    if not isinstance(space, Box) or space.shape is None or len(space.shape) not in (2, 3):
        raise TypeError(
            f"{wrapper} needs image observations (a Box of shape (H, W) or (H, W, C)), got {space}"
        )
    return space


def _action_meanings(env: gym.Env) -> list[str] | None:
    getter = getattr(env.unwrapped, "get_action_meanings", None)
    return list(getter()) if getter is not None else None


class MaxAndSkip(gym.Wrapper):
    """Repeat each action ``skip`` frames, sum the rewards, max-pool the last two frames.

    Atari games draw some sprites only every other frame (they flicker); the max over the
    last two frames shows them all. The repeat stops early when the episode ends; the
    observation is then the last frame (max-pooled with the one before it if that one was
    among the last two of the repeat).

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = MaxAndSkip(FrameCounterEnv(shape=(210, 160), episode_length=6), skip=4)
    >>> env.observation_space
    Box(0, 255, (210, 160), uint8)
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(0)
    >>> reward, info["frame"]              # 1 + 2 + 3 + 4 over frames 1..4
    (10.0, 4)
    >>> obs, reward, terminated, truncated, info = env.step(0)
    >>> reward, terminated, info["frame"]  # frames 5, 6 then the episode ends
    (11.0, True, 6)
    """

    def __init__(self, env: gym.Env, skip: int = 4) -> None:
        super().__init__(env)
        self.skip = _positive_int("skip", skip)
        self.observation_space = env.observation_space
        self._ale_env = _bare_ale_env(env)

    def step(self, action: Any) -> StepResult:
        if self._ale_env is not None:
            return self._step_emulator(action)
        total_reward = 0.0
        previous: np.ndarray | None = None
        obs: Any = None
        terminated = truncated = False
        info: dict[str, Any] = {}
        for i in range(self.skip):
            frame, reward, terminated, truncated, info = self.env.step(action)
            total_reward += float(reward)
            ended = terminated or truncated
            if i >= self.skip - 2 or ended:
                previous, obs = obs, frame
            if ended:
                break
        return self._pool(previous, obs), total_reward, terminated, truncated, info

    def _step_emulator(self, action: Any) -> StepResult:
        # Same frames, rewards and ends as `step`, but straight on the emulator: no screen
        # grab for the frames nobody looks at, no wrapper calls per frame (~10% faster).
        env: Any = self._ale_env
        ale = env.ale
        ale_action = env._action_set[action]
        total_reward = 0.0
        previous: np.ndarray | None = None
        obs: Any = None
        terminated = truncated = False
        for i in range(self.skip):
            total_reward += ale.act(ale_action)
            terminated = ale.game_over(with_truncation=False)
            truncated = ale.game_truncated()
            ended = terminated or truncated
            if i >= self.skip - 2 or ended:
                previous, obs = obs, env._get_obs()
            if ended:
                break
        return self._pool(previous, obs), total_reward, terminated, truncated, env._get_info()

    @staticmethod
    def _pool(previous: np.ndarray | None, last: np.ndarray) -> np.ndarray:
        # `previous` is None when the episode ended before the last two frames of the repeat.
        return last if previous is None else np.maximum(previous, last)


def _bare_ale_env(env: gym.Env) -> Any | None:
    """The ale-py ``AtariEnv`` under ``env`` if nothing in between changes ``step``, else None.

    Only then may :class:`MaxAndSkip` step the emulator directly. Wrappers that only watch
    (order and API checkers) or only act on reset (:class:`NoopReset`) are fine; anything
    else (a ``TimeLimit``, a recorder) must see every frame, so the plain path is used.
    ale-py's private ``_action_set``/``_get_obs``/``_get_info`` are checked for too: should
    a future ale-py drop them, the plain path is used.
    """
    from ale_py.env import AtariEnv
    from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker

    layer = env
    while isinstance(layer, gym.Wrapper):
        transparent = isinstance(layer, (OrderEnforcing, PassiveEnvChecker))
        if not transparent and type(layer).step is not gym.Wrapper.step:
            return None
        layer = layer.env
    needed = ("_action_set", "_get_obs", "_get_info", "ale")
    if (
        isinstance(layer, AtariEnv)
        and getattr(layer, "_frameskip", None) == 1
        and not getattr(layer, "continuous", False)
        and all(hasattr(layer, name) for name in needed)
    ):
        return layer
    return None


class ProcessFrame84(gym.ObservationWrapper):
    """Grayscale and resize frames to ``size x size`` (84 in the DQN papers) with INTER_AREA.

    Takes RGB frames ``(H, W, 3)`` or grayscale ``(H, W)``/``(H, W, 1)`` frames (ALE's
    ``obs_type="grayscale"`` is cheaper than converting RGB), returns ``(size, size)`` uint8.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = ProcessFrame84(FrameCounterEnv(shape=(210, 160, 3)))
    >>> env.observation_space
    Box(0, 255, (84, 84), uint8)
    >>> env.reset(seed=0)[0].shape
    (84, 84)
    """

    def __init__(self, env: gym.Env, size: int = 84) -> None:
        super().__init__(env)
        space = _image_space(env, "ProcessFrame84")
        if len(space.shape) == 3 and space.shape[-1] not in (1, 3):
            raise ValueError(
                f"ProcessFrame84 expects channel-last frames with 1 or 3 channels, "
                f"got shape {space.shape}"
            )
        self.size = _positive_int("size", size)
        self.observation_space = Box(0, 255, (self.size, self.size), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return process_frame84(observation, self.size)


def process_frame84(frame: np.ndarray, size: int = 84) -> np.ndarray:
    """One frame to ``(size, size)`` uint8 gray: RGB -> gray (OpenCV), resize with INTER_AREA.

    >>> process_frame84(np.zeros((210, 160, 3), np.uint8)).shape
    (84, 84)
    """
    if frame.ndim == 3:
        frame = frame[..., 0] if frame.shape[-1] == 1 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    # INTER_AREA averages the pixels each output pixel covers: no aliasing when shrinking.
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


class FrameStack(gym.Wrapper):
    """Return the ``k`` most recent observations stacked on a new first axis.

    One frame cannot show which way a ghost moves; four can. Frames of shape ``S`` give
    observations of shape ``(k, *S)``, oldest first: channel-first, as PyTorch wants. After a
    reset the stack is padded with copies of the first frame, like Gymnasium's
    ``FrameStackObservation`` (``padding="reset"``), or with zeros (``padding="zero"``).

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = FrameStack(FrameCounterEnv(shape=(84, 84)), k=4)
    >>> env.observation_space
    Box(0, 255, (4, 84, 84), uint8)
    >>> obs, info = env.reset(seed=0)
    >>> bool((obs[0] == obs[3]).all())   # padded with the reset frame
    True
    >>> obs, *_ = env.step(0)
    >>> bool((obs[2] == obs[0]).all()), bool((obs[3] == obs[2]).all())
    (True, False)
    """

    def __init__(self, env: gym.Env, k: int = 4, padding: str = "reset") -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, Box):
            raise TypeError(f"FrameStack needs a Box observation space, got {space}")
        if padding not in ("reset", "zero"):
            raise ValueError(f"padding must be 'reset' or 'zero', got {padding!r}")
        self.k = _positive_int("k", k)
        self.padding = padding
        low = np.repeat(space.low[None], self.k, axis=0)
        high = np.repeat(space.high[None], self.k, axis=0)
        self.observation_space = Box(low, high, dtype=space.dtype)
        self._frames = np.zeros(self.observation_space.shape, dtype=space.dtype)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._frames[:] = obs if self.padding == "reset" else 0
        self._frames[-1] = obs
        return self._frames.copy(), info

    def step(self, action: Any) -> StepResult:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames[:-1] = self._frames[1:]  # shift oldest out (numpy handles the overlap)
        self._frames[-1] = obs
        # A copy: the caller (a replay buffer) may keep it while we keep shifting ours.
        return self._frames.copy(), reward, terminated, truncated, info


class ImageToPyTorch(gym.ObservationWrapper):
    """Move the channel axis first: ``(H, W, C)`` -> ``(C, H, W)``, as ``nn.Conv2d`` expects.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> ImageToPyTorch(FrameCounterEnv(shape=(210, 160, 3))).observation_space
    Box(0, 255, (3, 210, 160), uint8)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = _image_space(env, "ImageToPyTorch")
        if len(space.shape) != 3:
            raise ValueError(
                f"ImageToPyTorch expects (H, W, C) frames, got shape {space.shape}; "
                "2-D grayscale frames need no channel move (FrameStack adds the first axis)"
            )
        self.observation_space = Box(
            np.moveaxis(space.low, -1, 0), np.moveaxis(space.high, -1, 0), dtype=space.dtype
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(observation, -1, 0))


class ScaledFloatFrame(gym.ObservationWrapper):
    """Scale uint8 pixels to float32 in [0, 1].

    Handy for small experiments; for replay memory keep uint8 and scale inside the
    network instead (4x less memory).

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> ScaledFloatFrame(FrameCounterEnv(shape=(84, 84))).observation_space
    Box(0.0, 1.0, (84, 84), float32)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, Box) or space.dtype != np.uint8:
            raise TypeError(f"ScaledFloatFrame needs uint8 Box observations, got {space}")
        self.observation_space = Box(0.0, 1.0, space.shape, np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.asarray(observation, dtype=np.float32) / np.float32(255.0)


def crop_slices(
    crop: tuple[int, int, int, int], frame_shape: tuple[int, ...]
) -> tuple[slice, slice]:
    """The rows and columns that ``crop=(top, bottom, left, right)`` keeps of frames of
    ``frame_shape`` (height, width, ...); ValueError if it leaves nothing.

    >>> crop_slices((60, 30, 15, 0), (210, 160))
    (slice(60, 180, None), slice(15, 160, None))
    """
    top, bottom, left, right = crop
    for name, value in (("top", top), ("bottom", bottom), ("left", left), ("right", right)):
        _positive_int(name, value, minimum=0)
    height, width = frame_shape[:2]
    if top + bottom >= height or left + right >= width:
        raise ValueError(
            f"Crop(top={top}, bottom={bottom}, left={left}, right={right}) leaves nothing "
            f"of a {height}x{width} frame"
        )
    return slice(top, height - bottom), slice(left, width - right)


class Crop(gym.ObservationWrapper):
    """Cut ``top``, ``bottom``, ``left`` and ``right`` pixels off each frame.

    Kung-Fu Master's score bar and floor carry nothing the agent needs:
    ``Crop(env, top=60, bottom=30, left=15)`` is the ``[60:-30, 15:]`` of the classic notebook.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> Crop(FrameCounterEnv(shape=(210, 160, 3)), top=60, bottom=30, left=15).observation_space
    Box(0, 255, (120, 145, 3), uint8)
    """

    def __init__(
        self, env: gym.Env, top: int = 0, bottom: int = 0, left: int = 0, right: int = 0
    ) -> None:
        super().__init__(env)
        space = _image_space(env, "Crop")
        self._rows, self._cols = crop_slices((top, bottom, left, right), space.shape[:2])
        self.observation_space = Box(
            space.low[self._rows, self._cols], space.high[self._rows, self._cols], dtype=space.dtype
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(observation[self._rows, self._cols])


class NoopReset(gym.Wrapper):
    """After each reset, play a random number (1 to ``noop_max``) of NOOP actions.

    The DQN papers start episodes this way so the agent cannot memorise one fixed opening.
    The count comes from the env's own seeded ``np_random`` (as in Gymnasium's
    ``AtariPreprocessing``), so ``reset(seed=...)`` makes it reproducible.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = NoopReset(FrameCounterEnv(shape=(84, 84)), noop_max=30)
    >>> env.observation_space
    Box(0, 255, (84, 84), uint8)
    >>> obs, info = env.reset(seed=0)
    >>> 1 <= info["frame"] <= 30 and set(env.unwrapped.actions) == {0}
    True
    """

    def __init__(self, env: gym.Env, noop_max: int = 30) -> None:
        super().__init__(env)
        self.noop_max = _positive_int("noop_max", noop_max, minimum=0)
        meanings = _action_meanings(env)
        if self.noop_max > 0 and meanings is not None and meanings[0] != "NOOP":
            raise ValueError(f"NoopReset needs action 0 to be NOOP, got actions {meanings}")
        self.observation_space = env.observation_space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        if self.noop_max == 0:
            return obs, info
        noops = int(self.env.unwrapped.np_random.integers(1, self.noop_max + 1))
        for _ in range(noops):
            obs, _, terminated, truncated, step_info = self.env.step(0)
            info.update(step_info)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        return obs, info


class FireReset(gym.Wrapper):
    """Press FIRE after each reset, for games that wait for it (Breakout, Pong...).

    Without it a fresh agent can stare at a frozen screen for a whole episode.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = FireReset(FrameCounterEnv(shape=(84, 84)))
    >>> env.observation_space
    Box(0, 255, (84, 84), uint8)
    >>> _ = env.reset(seed=0); env.unwrapped.actions   # FIRE, then a second action as in baselines
    [1, 2]
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        meanings = _action_meanings(env)
        if meanings is None or len(meanings) < 3 or meanings[1] != "FIRE":
            raise ValueError(
                f"FireReset needs action 1 to be FIRE (and at least 3 actions), got {meanings}; "
                "this game does not need it"
            )
        self.observation_space = env.observation_space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        for action in (1, 2):
            obs, _, terminated, truncated, step_info = self.env.step(action)
            info.update(step_info)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        return obs, info


class EpisodicLife(gym.Wrapper):
    """Report a lost life as ``terminated`` (training only), reset for real at game over.

    The TD target then learns that losing a life ends the value stream, which speeds up
    learning (DQN papers). After a lost life, ``reset`` does not restart the game: it plays
    one NOOP and carries on (a ``seed`` given then is ignored, as in SB3). Evaluate without
    this wrapper to get real game scores.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = EpisodicLife(FrameCounterEnv(shape=(84, 84), life_length=3, lives=2))
    >>> env.observation_space
    Box(0, 255, (84, 84), uint8)
    >>> _ = env.reset(seed=0)
    >>> [env.step(0)[2] for _ in range(3)]   # the 3rd frame costs a life
    [False, False, True]
    >>> _ = env.reset(); env.unwrapped.resets  # not a real reset: one game so far
    1
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = env.observation_space
        self.lives = 0
        self.game_over = True

    def step(self, action: Any) -> StepResult:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = int(info.get("lives", self.lives))
        if 0 < lives < self.lives:
            terminated = True  # a life lost: end of this "episode" for the learner
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        # As SB3's EpisodicLifeEnv: after a lost life the game goes on and ``seed`` is not
        # used; it seeds the next real reset's game only when the game is over.
        if self.game_over:
            obs, info = self.env.reset(seed=seed, options=options)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        self.game_over = False
        self.lives = int(info.get("lives", 0))
        return obs, info


class ClipReward(gym.RewardWrapper):
    """Clip rewards to their sign (-1, 0, +1), so one learning rate fits every game.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = ClipReward(FrameCounterEnv(shape=(84, 84)))
    >>> env.observation_space
    Box(0, 255, (84, 84), uint8)
    >>> _ = env.reset(seed=0); env.step(0)[1]
    1.0
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = env.observation_space

    def reward(self, reward: SupportsFloat) -> float:
        return float(np.sign(float(reward)))


class ActionSubset(gym.ActionWrapper):
    """Let the agent choose among a few of the game's actions, named by their meanings.

    Fewer actions, faster learning: the PyTorch Mario tutorial plays with "right" and
    "right + jump" only. Action ``i`` of the wrapper is the game's action ``meanings[i]``.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = ActionSubset(FrameCounterEnv(shape=(84, 84)), ["RIGHT", "FIRE"])
    >>> env.observation_space, env.action_space, env.get_action_meanings()
    (Box(0, 255, (84, 84), uint8), Discrete(2), ['RIGHT', 'FIRE'])
    >>> _ = env.reset(seed=0); _ = env.step(1); env.unwrapped.actions
    [1]
    """

    def __init__(self, env: gym.Env, meanings: list[str] | tuple[str, ...]) -> None:
        super().__init__(env)
        available = _action_meanings(env)
        if available is None:
            raise TypeError(f"ActionSubset needs an env with get_action_meanings(), got {env}")
        if not meanings or len(set(meanings)) != len(meanings):
            raise ValueError(f"meanings must be distinct action names, got {list(meanings)}")
        unknown = [name for name in meanings if name not in available]
        if unknown:
            raise ValueError(f"actions {unknown} are not in this game's set {available}")
        self.meanings = list(meanings)
        self._actions = np.array([available.index(name) for name in self.meanings])
        self.action_space = gym.spaces.Discrete(len(self.meanings))
        self.observation_space = env.observation_space

    def action(self, action: Any) -> int:
        return int(self._actions[action])

    def get_action_meanings(self) -> list[str]:
        return list(self.meanings)


class CopyFrames(gym.Wrapper):
    """Hand out copies of the frames, for envs that return a view of their screen buffer.

    nes-py (under NES Super Mario Bros.) returns the emulator's own screen array from
    ``reset``, ``step`` and ``render``, and the next frame overwrites it in place. Whatever
    keeps frames (the max-pool of :class:`MaxAndSkip`, a replay buffer, a video's frame
    list) would then hold the latest frame only. Copying a 240x256 RGB frame costs far less
    than emulating it.

    >>> from rlcourse.toy_envs import FrameCounterEnv
    >>> env = CopyFrames(FrameCounterEnv(shape=(240, 256, 3)))
    >>> env.observation_space
    Box(0, 255, (240, 256, 3), uint8)
    >>> first, _ = env.reset(seed=0)
    >>> second, *_ = env.step(0)
    >>> bool(np.shares_memory(first, second))
    False
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = env.observation_space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return np.array(obs), info

    def step(self, action: Any) -> StepResult:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return np.array(obs), reward, terminated, truncated, info

    def render(self) -> Any:
        frame = self.env.render()
        return frame.copy() if isinstance(frame, np.ndarray) else frame
