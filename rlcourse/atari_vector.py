"""Many ALE games stepped in C++ threads, seen exactly as :func:`~rlcourse.envs.make_env_for`
makes one.

ale-py's ``AtariVectorEnv`` steps a batch of games on its own threads (frame skip and
max-pooling in C++), several times faster than a Python loop over Gymnasium envs. It has
no crop and its own life-loss and reset rules, so :class:`AtariVectorGames` asks it for
full-size gray frames only and does the rest here, the course's way: crop, resize
(``INTER_AREA``), frame stack, a lost life reported as ``terminated`` without a reset of the
game (training), rewards clipped (training), and games reset only when the pool says so,
each with its own seed.
"""

from __future__ import annotations

import re
from typing import Any

import cv2
import numpy as np
from gymnasium.spaces import Box, Discrete

from rlcourse.config import check_positive_int
from rlcourse.envs import atari_options, check_env_id, is_atari
from rlcourse.wrappers import crop_slices

SCREEN = (210, 160)
"""Height and width of an Atari frame."""
_SUPPORTED = {
    "frame_skip",
    "noop_max",
    "repeat_action_probability",
    "screen_size",
    "frame_stack",
    "crop",
    "fire_reset",
    "episodic_life",
    "clip_rewards",
}


def rom_name(env_id: str) -> str:
    """The ROM of an ALE id, as ``AtariVectorEnv`` names it.

    >>> rom_name("ALE/KungFuMaster-v5"), rom_name("ALE/MsPacman-v5")
    ('kung_fu_master', 'ms_pacman')
    """
    from ale_py import roms

    check_env_id(env_id)
    if not is_atari(env_id):
        raise ValueError(f"{env_id!r} is not an ALE game (ids look like 'ALE/KungFuMaster-v5')")
    game = env_id.split("/")[-1].split("-")[0]
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()
    if name not in roms.get_all_rom_ids():
        raise ValueError(f"no ROM named {name!r} (from {env_id!r}) in ale-py")
    return name


class AtariVectorGames:
    """``n_games`` games of ``env_id`` with the observations, rewards and episode ends of
    ``make_env_for(env_id, training=training, **options)``, stepped by ale-py's C++
    ``AtariVectorEnv`` on ``threads`` threads.

    The interface is the part of Gymnasium's ``VectorEnv`` that
    :class:`~rlcourse.rollouts.ParallelGames` uses, with autoreset off: ``reset(seed=...,
    options={"reset_mask": ...})`` resets the games it names, each with its seed (or only
    ends the "episode" of a game that lost a life: the game goes on, as with
    :class:`~rlcourse.wrappers.EpisodicLife`, minus that wrapper's one NOOP step).

    >>> games = AtariVectorGames("ALE/KungFuMaster-v5", 2, screen_size=42, frame_stack=1,
    ...                          crop=(60, 30, 15, 0))
    >>> games.single_observation_space, games.single_action_space
    (Box(0, 255, (1, 42, 42), uint8), Discrete(14))
    >>> obs, info = games.reset(seed=0)
    >>> obs.shape, info["lives"].tolist()
    ((2, 1, 42, 42), [4, 4])
    >>> games.close()
    """

    def __init__(
        self,
        env_id: str,
        n_games: int,
        *,
        training: bool = True,
        threads: int = 2,
        **options: Any,
    ) -> None:
        from ale_py.vector_env import AtariVectorEnv

        self.n_games = check_positive_int("n_games", n_games)
        threads = check_positive_int("threads", threads)
        unknown = sorted(set(options) - _SUPPORTED)
        if unknown:
            raise ValueError(
                f"AtariVectorGames cannot apply the options {unknown} (it applies "
                f"{sorted(_SUPPORTED)}): use the Gymnasium games (vectorization 'sync')"
            )
        options = atari_options(options, training=training)  # make_env_for's rules
        self.episodic_life, self.clip_rewards = options["episodic_life"], options["clip_rewards"]
        self.size = check_positive_int("screen_size", options["screen_size"])
        self.frame_stack = check_positive_int("frame_stack", options["frame_stack"])
        frame_skip = check_positive_int("frame_skip", options["frame_skip"])
        self._rows, self._cols = crop_slices(options["crop"] or (0, 0, 0, 0), SCREEN)
        self.envs = AtariVectorEnv(
            rom_name(env_id),
            self.n_games,
            num_threads=min(threads, self.n_games),
            img_height=SCREEN[0],
            img_width=SCREEN[1],
            grayscale=True,
            stack_num=1,
            frameskip=frame_skip,
            maxpool=frame_skip > 1,
            noop_max=options["noop_max"],
            repeat_action_probability=options["repeat_action_probability"],
            use_fire_reset=options["fire_reset"] is not False,
            # Both done here: the C++ rule resets the game at a lost life.
            episodic_life=False,
            reward_clipping=False,
        )
        self.single_observation_space = Box(
            0, 255, (self.frame_stack, self.size, self.size), np.uint8
        )
        self.single_action_space = Discrete(int(self.envs.single_action_space.n))  # type: ignore[attr-defined]
        self._stacks = np.zeros((self.n_games, *self.single_observation_space.shape), np.uint8)
        self._lives = np.zeros(self.n_games, np.int64)
        self._game_over = np.ones(self.n_games, bool)

    def _frames(self, screens: np.ndarray, games: np.ndarray) -> np.ndarray:
        """Crop and resize the screens of ``games``: ``[len(games), size, size]``."""
        return np.stack(
            [
                cv2.resize(
                    screens[game, 0, self._rows, self._cols],
                    (self.size, self.size),
                    interpolation=cv2.INTER_AREA,
                )
                for game in games
            ]
        )

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Restart every game, or only those of ``options["reset_mask"]`` whose game is over
        (the others lost a life: their game goes on). ``seed``: an int (games get ``seed``,
        ``seed + 1``, ...) or one seed (or None) per game."""
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], dtype=bool)
            # A game whose "episode" was a life goes on: nothing to reset but the flag.
            restart = mask & self._game_over
        else:
            restart = np.ones(self.n_games, bool)
        if isinstance(seed, int) or seed is None:
            seeds = [None if seed is None else seed + i for i in range(self.n_games)]
        else:
            seeds = list(seed)
        if restart.any():
            fresh = [seeds[i] for i in np.flatnonzero(restart)]
            game_seeds = np.array([-1 if s is None else s for s in fresh], dtype=np.int64)
            mask_option = None if restart.all() else {"reset_mask": restart}
            screens, info = self.envs.reset(seed=game_seeds, options=mask_option)
            games = np.flatnonzero(restart)
            self._stacks[games] = self._frames(screens, games)[:, None]  # padded with frame 1
            self._lives[games] = info["lives"][games]
            self._game_over[games] = False
        return self._stacks.copy(), {"lives": self._lives.copy()}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        screens, rewards, terminated, truncated, info = self.envs.step(
            np.asarray(actions, dtype=np.int64)
        )
        self._stacks[:, :-1] = self._stacks[:, 1:]
        self._stacks[:, -1] = self._frames(screens, np.arange(self.n_games))
        lives = np.asarray(info["lives"], dtype=np.int64)
        self._game_over = terminated | truncated
        if self.episodic_life:
            terminated = terminated | ((lives > 0) & (lives < self._lives))
        self._lives = lives
        rewards = np.asarray(rewards, dtype=np.float32)
        if self.clip_rewards:
            rewards = np.sign(rewards)
        return self._stacks.copy(), rewards, terminated, truncated, {"lives": lives.copy()}

    def close(self) -> None:
        self.envs.close()
