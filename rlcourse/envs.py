"""Making environments: ids checked with helpful errors, the Atari wrapper stack.

``make_env`` gives a plain Gymnasium env (CartPole, or a raw ALE game that shows every
frame); ``make_atari_env`` adds the DQN papers' preprocessing on top. ``make_mario_env`` does
the same for NES Super Mario Bros. (the optional gym-super-mario-bros package).
:class:`AtariGamesConfig` holds the game fields that the actor-critic configs share.

>>> env = make_atari_env("ALE/MsPacman-v5")
>>> env.observation_space
Box(0, 255, (4, 84, 84), uint8)
>>> env.action_space
Discrete(9)
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import ale_py
import gymnasium as gym

from rlcourse.config import check_number, check_positive_int
from rlcourse.errors import CheckpointError, MissingDependencyError, UnknownEnvError
from rlcourse.wrappers import (
    ActionSubset,
    ClipReward,
    CopyFrames,
    Crop,
    EpisodicLife,
    FireReset,
    FrameStack,
    MaxAndSkip,
    NoopReset,
    ProcessFrame84,
    ScaledFloatFrame,
)

# ale-py >= 0.9 no longer registers its games on import: Gymnasium 1.x wants it said.
gym.register_envs(ale_py)
# Errors only: the emulator's start-up banner would otherwise land in every notebook cell.
ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)


# Reduced ALE action sets, named for what they hold. "right_only" is the PyTorch Mario
# tutorial's (right, right + jump; FIRE jumps in Mario Bros.); "walk_and_fire" can also
# stand still, go left and jump both ways.
ACTION_SETS: dict[str, tuple[str, ...]] = {
    "right_only": ("RIGHT", "RIGHTFIRE"),
    "walk_and_fire": ("NOOP", "RIGHT", "LEFT", "FIRE", "RIGHTFIRE", "LEFTFIRE"),
}


# NES Super Mario Bros. (gym-super-mario-bros) joypad action sets, as button combinations.
# "right_only" is the PyTorch Mario tutorial's; the others are the package's RIGHT_ONLY,
# SIMPLE_MOVEMENT and COMPLEX_MOVEMENT, written out so they can be checked without it.
NES_MARIO_ACTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "right_only": (("right",), ("right", "A")),
    "simple_movement": (
        ("NOOP",),
        ("right",),
        ("right", "A"),
        ("right", "B"),
        ("right", "A", "B"),
        ("A",),
        ("left",),
    ),
    "complex_movement": (
        ("NOOP",),
        ("right",),
        ("right", "A"),
        ("right", "B"),
        ("right", "A", "B"),
        ("A",),
        ("left",),
        ("left", "A"),
        ("left", "B"),
        ("left", "A", "B"),
        ("down",),
        ("up",),
    ),
}
# nes_py.wrappers.JoypadSpace's buttons (B runs and throws fireballs, A jumps).
NES_BUTTONS = ("NOOP", "right", "left", "down", "up", "start", "select", "B", "A")

# The package's id families: SuperMarioBros[-]W-S-v0, SuperMarioBros2 (Lost Levels, worlds
# 1-9 and A-D), SuperMarioBros2USA, SuperMarioBros3, whole games (SuperMarioBros-v0) and
# the RandomStages ids of older releases (an unknown one gets close matches once imported).
_NES_MARIO_ID = re.compile(r"SuperMarioBros(?:2USA|2|3|RandomStages)?(?:-?[1-9A-D]-\d)?-v\d")


def is_nes_mario(env_id: str) -> bool:
    """Whether ``env_id`` is a NES Super Mario Bros. game (the gym-super-mario-bros package).

    Decided from the id alone when the package is not installed (nothing is imported), so
    it can choose :func:`make_mario_env` before that one says what to install.

    >>> is_nes_mario("SuperMarioBros-1-1-v0"), is_nes_mario("ALE/MarioBros-v5")
    (True, False)
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env id must be a str such as 'SuperMarioBros-1-1-v0', got {env_id!r}")
    spec = gym.registry.get(env_id)
    if spec is not None:
        entry_point = spec.entry_point
        return isinstance(entry_point, str) and entry_point.startswith("gym_super_mario_bros")
    return _NES_MARIO_ID.fullmatch(env_id) is not None


def _register_nes_mario(env_id: str) -> None:
    """Import gym-super-mario-bros (which registers its ids) or say how to get it."""
    import sys

    try:
        import gym_super_mario_bros  # noqa: F401
    except ImportError:
        python = ".".join(map(str, sys.version_info[:2]))
        needs = "" if sys.version_info >= (3, 13) else f" and Python >= 3.13 (this is {python})"
        raise MissingDependencyError(
            f"{env_id!r} is NES Super Mario Bros., which needs the optional package "
            f"gym-super-mario-bros >= 9{needs}: pip install 'gym-super-mario-bros>=9'. "
            "Without it, use 'ALE/MarioBros-v5' (bundled with ale-py)."
        ) from None


def _removed_id_hint(env_id: str) -> str:
    """Classic tutorials use ids that are gone; say what replaced them."""
    match = re.fullmatch(r"(?:ALE/)?([A-Za-z]+?)(Deterministic|NoFrameskip)?-v\d+", env_id)
    if match is None:
        return ""
    candidate = f"ALE/{match.group(1)}-v5"
    if candidate in gym.registry and candidate != env_id:
        return (
            f" The classic '{env_id}' id was removed from Gymnasium/ale-py: use "
            f"'{candidate}' (rlcourse adds frame skipping itself, so frameskip=1 underneath)."
        )
    return ""


def check_env_id(env_id: str) -> str:
    """Return ``env_id`` if Gymnasium knows it, else raise an error listing close matches.

    >>> check_env_id("CartPole-v1")
    'CartPole-v1'
    >>> check_env_id("ALE/MsPacmn-v5")
    Traceback (most recent call last):
    ...
    rlcourse.errors.UnknownEnvError: Unknown environment id 'ALE/MsPacmn-v5'. Did you mean: ...
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env id must be a str such as 'CartPole-v1', got {env_id!r}")
    if env_id not in gym.registry and is_nes_mario(env_id):
        _register_nes_mario(env_id)
    if env_id in gym.registry:
        return env_id
    names = list(gym.registry)
    lowered = {name.lower(): name for name in names}
    if env_id.lower() in lowered:
        close = [lowered[env_id.lower()]]
    else:
        close = difflib.get_close_matches(env_id, names, n=5, cutoff=0.6)
        close += difflib.get_close_matches(f"ALE/{env_id}", names, n=3, cutoff=0.8)
        close = list(dict.fromkeys(close))[:5]
    suggestion = (
        "Did you mean: " + ", ".join(repr(name) for name in close) + "?"
        if close
        else "See `rlcourse.envs.list_atari_games()` for the ALE games."
    )
    raise UnknownEnvError(
        f"Unknown environment id {env_id!r}. {suggestion}{_removed_id_hint(env_id)}"
    )


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` is an ALE game.

    >>> is_atari("ALE/Pong-v5"), is_atari("CartPole-v1")
    (True, False)
    """
    entry_point = gym.spec(check_env_id(env_id)).entry_point
    return isinstance(entry_point, str) and entry_point.startswith("ale_py")


def list_atari_games() -> list[str]:
    """The ``ALE/<Game>-v5`` ids (pixel observations) that ale-py provides.

    >>> "ALE/KungFuMaster-v5" in list_atari_games()
    True
    """
    return sorted(name for name in gym.registry if name.startswith("ALE/") and "-ram" not in name)


def make_env(
    env_id: str,
    *,
    render_mode: str | None = None,
    repeat_action_probability: float | None = None,
    frameskip: int | None = None,
    obs_type: str | None = None,
    max_episode_steps: int | None = None,
    actions: str | Sequence[str | Sequence[str]] | None = None,
    **kwargs: Any,
) -> gym.Env:
    """Make a Gymnasium env, checking the id first and registering ALE games.

    For ALE games the defaults differ from ``gym.make``'s v5 ones, on purpose and visibly:
    ``frameskip=1`` (the course's :class:`~rlcourse.wrappers.MaxAndSkip` skips frames) and
    ``repeat_action_probability=0.0`` (no sticky actions, as in the DQN papers; ale-py's v5
    default is 0.25, Machado et al. 2018). The ALE-only arguments are refused for other envs.
    ``actions`` keeps only some of the game's actions (:class:`ActionSubset`): a list of
    action names, or the name of one of :data:`ACTION_SETS` (e.g. ``"right_only"``).

    ``SuperMarioBros-1-1-v0``-style ids (NES, :func:`is_nes_mario`) need the optional
    gym-super-mario-bros package (see :func:`make_mario_env`); their frames come as copies
    (:class:`CopyFrames`) and ``actions`` is a joypad set for nes-py's ``JoypadSpace``
    (:data:`NES_MARIO_ACTIONS`). Without ``actions`` a NES game takes the raw controller
    byte, ``Discrete(256)``.

    >>> make_env("CartPole-v1").observation_space.shape
    (4,)
    >>> make_env("ALE/MsPacman-v5").observation_space
    Box(0, 255, (210, 160, 3), uint8)
    """
    check_env_id(env_id)
    nes = is_nes_mario(env_id)
    joypad = _joypad_actions(actions) if nes and actions is not None else None
    if render_mode == "rgb_array":
        # pygame-rendered envs (CartPole) render off-screen: no display, no audio device.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    if is_atari(env_id):
        kwargs.update(
            frameskip=1 if frameskip is None else frameskip,
            repeat_action_probability=(
                0.0 if repeat_action_probability is None else repeat_action_probability
            ),
        )
        if obs_type is not None:
            kwargs["obs_type"] = obs_type
    else:
        ale_only = {
            "repeat_action_probability": repeat_action_probability,
            "frameskip": frameskip,
            "obs_type": obs_type,
            # NES Super Mario's actions are a joypad set (above), not a refused ALE option.
            "actions (a reduced action set)": None if nes else actions,
        }
        given = [name for name, value in ale_only.items() if value is not None]
        if given:
            raise TypeError(f"{', '.join(given)} only apply to ALE games, not to {env_id!r}")
    try:
        env = gym.make(
            env_id, render_mode=render_mode, max_episode_steps=max_episode_steps, **kwargs
        )
    except gym.error.DependencyNotInstalled as error:
        raise MissingDependencyError(
            f"{env_id} needs a package that is not installed: {str(error).strip()}"
        ) from None
    if nes:
        from nes_py.wrappers import JoypadSpace

        env = CopyFrames(env)  # nes-py hands out its screen buffer, which the next frame overwrites
        return env if joypad is None else JoypadSpace(env, joypad)
    return env if actions is None else ActionSubset(env, _action_names(actions))


def _action_names(actions: str | Sequence[str | Sequence[str]]) -> list[str]:
    if isinstance(actions, str):
        if actions not in ACTION_SETS:
            raise ValueError(
                f"actions={actions!r}: name the actions (e.g. ['RIGHT', 'RIGHTFIRE']) or use "
                f"one of the presets {sorted(ACTION_SETS)}"
            )
        return list(ACTION_SETS[actions])
    names = list(actions)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"ALE actions are named by strings such as 'RIGHT', got {names!r}")
    return cast(list[str], names)


def _joypad_actions(actions: str | Sequence[str | Sequence[str]]) -> list[list[str]]:
    """A NES action set as ``JoypadSpace`` wants it: one list of buttons per action.

    A preset name from :data:`NES_MARIO_ACTIONS`, or one entry per action: a list of
    buttons (``["right", "A"]``) or the same as ``JoypadSpace`` prints it (``"right A"``).
    """
    if isinstance(actions, str):
        if actions not in NES_MARIO_ACTIONS:
            raise ValueError(
                f"actions={actions!r}: name the button combinations (e.g. [['right'], "
                f"['right', 'A']]) or use one of the presets {sorted(NES_MARIO_ACTIONS)}"
            )
        return [list(combo) for combo in NES_MARIO_ACTIONS[actions]]
    if not isinstance(actions, Sequence) or len(actions) == 0:
        raise ValueError(
            f"actions must be a non-empty list of button combinations, got {actions!r}"
        )
    odd = [entry for entry in actions if not isinstance(entry, (str, Sequence))]
    if odd:
        raise TypeError(
            f"each action is a list of buttons or a string such as 'right A', got {odd[0]!r}"
        )
    combos = [entry.split() if isinstance(entry, str) else list(entry) for entry in actions]
    for combo in combos:
        unknown = [button for button in combo if button not in NES_BUTTONS]
        if not combo or unknown:
            raise ValueError(
                f"actions={list(actions)!r}: {combo!r} is not a combination of the NES "
                f"buttons {list(NES_BUTTONS)}"
            )
    # Two spellings of one button set would be one action twice for the agent.
    pressed = [frozenset(combo) - {"NOOP"} for combo in combos]
    if len(set(pressed)) != len(pressed):
        raise ValueError(f"actions must be distinct button combinations, got {combos!r}")
    return combos


def make_atari_env(
    env_id: str,
    *,
    frame_skip: int = 4,
    noop_max: int = 30,
    episodic_life: bool = True,
    clip_rewards: bool = True,
    fire_reset: bool | None = None,
    screen_size: int = 84,
    frame_stack: int = 4,
    scale: bool = False,
    repeat_action_probability: float = 0.0,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
    actions: str | list[str] | tuple[str, ...] | None = None,
    crop: tuple[int, int, int, int] | None = None,
    **kwargs: Any,
) -> gym.Env:
    """An ALE game with the DQN papers' preprocessing: uint8 ``(frame_stack, 84, 84)`` frames.

    The stack, innermost first: raw game at 1 frame per step (grayscale straight from the
    ALE) -> :class:`NoopReset` -> :class:`MaxAndSkip` -> :class:`EpisodicLife` ->
    :class:`FireReset` (games whose action 1 is FIRE) -> :class:`ProcessFrame84` ->
    :class:`ClipReward` -> :class:`FrameStack` (-> :class:`ScaledFloatFrame` if ``scale``).

    ``episodic_life`` and ``clip_rewards`` are for training; evaluate with both off to see
    real game scores. ``render_mode="rgb_array"`` renders full-colour frames for videos.
    ``actions`` restricts the action set (see :func:`make_env`). ``crop=(top, bottom, left,
    right)`` cuts borders (:class:`Crop`) before the resize.
    A ``frame_stack`` of 1 keeps the single-frame axis: ``(1, 84, 84)``.
    """
    check_env_id(env_id)
    # Checked here: a wrapper that is skipped (frame_skip=0, noop_max=-1) would not say it.
    check_positive_int("frame_skip", frame_skip)
    check_number("noop_max", noop_max, integer=True, low=0)
    check_positive_int("screen_size", screen_size)
    check_positive_int("frame_stack", frame_stack)
    check_number("repeat_action_probability", repeat_action_probability, low=0, high=1)
    if not is_atari(env_id):
        raise ValueError(
            f"{env_id!r} is not an ALE game: make_atari_env is for pixels, use make_env() "
            f"for it. ALE games look like 'ALE/MsPacman-v5'."
        )
    env = make_env(
        env_id,
        obs_type="grayscale",
        frameskip=1,
        repeat_action_probability=repeat_action_probability,
        render_mode=render_mode,
        max_episode_steps=max_episode_steps,
        **kwargs,
    )
    if noop_max > 0:
        env = NoopReset(env, noop_max=noop_max)
    if frame_skip > 1:
        env = MaxAndSkip(env, skip=frame_skip)
    if episodic_life:
        env = EpisodicLife(env)
    if fire_reset is None:
        fire_reset = env.unwrapped.get_action_meanings()[1:2] == ["FIRE"]  # type: ignore[attr-defined]
    if fire_reset:
        env = FireReset(env)
    if crop is not None:
        top, bottom, left, right = crop
        env = Crop(env, top=top, bottom=bottom, left=left, right=right)
    env = ProcessFrame84(env, size=screen_size)
    if clip_rewards:
        env = ClipReward(env)
    env = FrameStack(env, k=frame_stack)
    if scale:
        env = ScaledFloatFrame(env)
    if actions is not None:
        # Outermost, so NoopReset and FireReset still press the game's own NOOP and FIRE.
        env = ActionSubset(env, _action_names(actions))
    return env


def make_mario_env(
    env_id: str,
    *,
    actions: str | Sequence[str | Sequence[str]] | None = "right_only",
    frame_skip: int = 4,
    screen_size: int = 84,
    frame_stack: int = 4,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
) -> gym.Env:
    """NES Super Mario Bros. with the PyTorch Mario tutorial's preprocessing, uint8 frames.

    Needs the optional package, which needs Python >= 3.13 (prebuilt wheels, no compiler)::

        pip install 'gym-super-mario-bros>=9'

    Without it a :class:`MissingDependencyError` says so; ``'ALE/MarioBros-v5'`` (ale-py,
    :func:`make_atari_env`) is the Mario game that is always there.

    The stack, innermost first: the NES game (one emulator frame per step) ->
    :class:`CopyFrames` -> nes-py's ``JoypadSpace`` with the ``actions`` set ->
    :class:`MaxAndSkip` (``frame_skip`` frames per action, rewards summed) ->
    :class:`ProcessFrame84` (gray ``screen_size`` squares) -> :class:`FrameStack`. So, as for
    the Atari games, observations are ``(frame_stack, 84, 84)`` uint8.

    ``actions``: ``"right_only"`` (the tutorial's: right, right + jump),
    ``"simple_movement"`` or ``"complex_movement"`` (7 and 12 actions), a
    list of button combinations (:data:`NES_MARIO_ACTIONS`), or None for the raw controller
    byte (256 actions). Rewards are the package's, unclipped: the distance moved right,
    minus the clock, -15 for dying (each frame clipped to [-15, 15]). ``terminated`` comes
    from the game (a stage id ends on a lost life or the flag, ``SuperMarioBros-v0`` at game
    over), ``truncated`` only from ``max_episode_steps``, counted in emulator frames as for
    :func:`make_atari_env`. ``render_mode="rgb_array"`` renders full-colour frames.

    >>> env = make_mario_env("SuperMarioBros-1-1-v0")  # doctest: +SKIP
    >>> env.observation_space, env.action_space  # doctest: +SKIP
    (Box(0, 255, (4, 84, 84), uint8), Discrete(2))
    """
    if not is_nes_mario(env_id):
        raise ValueError(
            f"{env_id!r} is not NES Super Mario Bros. (ids like 'SuperMarioBros-1-1-v0'): use "
            "make_atari_env() for ALE games such as 'ALE/MarioBros-v5', make_env() otherwise"
        )
    # Bad arguments are told apart from a missing package: checked before it is needed.
    if actions is not None:
        _joypad_actions(actions)
    frame_skip = check_positive_int("frame_skip", frame_skip)
    screen_size = check_positive_int("screen_size", screen_size)
    frame_stack = check_positive_int("frame_stack", frame_stack)
    env = make_env(
        env_id, render_mode=render_mode, max_episode_steps=max_episode_steps, actions=actions
    )
    if frame_skip > 1:
        env = MaxAndSkip(env, skip=frame_skip)
    env = ProcessFrame84(env, size=screen_size)
    return FrameStack(env, k=frame_stack)


# --- the envs an agent trains and is evaluated on ------------------------------------------

KUNGFU_CROP = (60, 30, 15, 0)
"""Kung-Fu Master's playing field: ``[60:-30, 15:]`` of the screen (no score bar, no floor),
as in Practical_RL's recurrent notebook."""


def make_kungfu_env(
    env_id: str = "ALE/KungFuMaster-v5",
    *,
    screen_size: int = 42,
    frame_stack: int = 1,
    episodic_life: bool = False,
    render_mode: str | None = None,
    **options: Any,
) -> gym.Env:
    """Kung-Fu Master as lesson 09's recurrent agent sees it: uint8 ``(1, 42, 42)`` frames.

    :func:`make_atari_env` cropped to the playing field (:data:`KUNGFU_CROP`), gray, 42x42,
    one frame (the LSTM is the memory), the game's own rewards (100, 200, ... points), no
    FIRE at reset. ``episodic_life`` (training only) ends an episode at a lost life.

    >>> env = make_kungfu_env()
    >>> env.observation_space, env.action_space
    (Box(0, 255, (1, 42, 42), uint8), Discrete(14))
    """
    options.setdefault("crop", KUNGFU_CROP)
    options.setdefault("clip_rewards", False)
    options.setdefault("fire_reset", False)
    return make_atari_env(
        env_id,
        screen_size=screen_size,
        frame_stack=frame_stack,
        episodic_life=episodic_life,
        render_mode=render_mode,
        **options,
    )


def make_env_for(
    env_id: str,
    *,
    training: bool,
    render_mode: str | None = None,
    **options: Any,
) -> gym.Env:
    """The env an agent trains on (``training=True``) or is evaluated on, from its id and the
    options saved with it (``actions``, ``screen_size``, ``crop``, ...).

    ALE games get :func:`make_atari_env`; lost lives end episodes (``episodic_life``) and
    rewards are clipped (``clip_rewards``) only in training, each when its option (default
    True) says so: evaluation always plays whole games for real scores. NES Super Mario ids
    get :func:`make_mario_env` (``actions="right_only"`` unless said otherwise). Other ids
    get :func:`make_env`.

    >>> make_env_for("ALE/Pong-v5", training=False).observation_space.shape
    (4, 84, 84)
    """
    check_env_id(env_id)
    options = dict(options)
    if is_nes_mario(env_id):  # before is_atari, which would import the optional package
        options.setdefault("actions", "right_only")
        return make_mario_env(env_id, render_mode=render_mode, **options)
    if is_atari(env_id):
        return make_atari_env(
            env_id, render_mode=render_mode, **atari_options(options, training=training)
        )
    return make_env(env_id, render_mode=render_mode, **options)


def atari_options(options: dict[str, Any], *, training: bool) -> dict[str, Any]:
    """The keyword arguments of :func:`make_atari_env` for an agent's saved ``options``: its
    defaults where an option is not given, ``crop`` a tuple, and ``episodic_life`` and
    ``clip_rewards`` (default True) on only in training. :func:`make_env_for` and
    :class:`~rlcourse.atari_vector.AtariVectorGames` both follow them.

    >>> atari_options({"screen_size": 42}, training=False)["episodic_life"]
    False
    >>> training = atari_options({}, training=True)
    >>> training["frame_skip"], training["clip_rewards"], training["crop"]
    (4, True, None)
    """
    parameters = inspect.signature(make_atari_env).parameters.values()
    resolved = {
        p.name: p.default
        for p in parameters
        if p.kind is p.KEYWORD_ONLY and p.name != "render_mode"
    }
    resolved.update(options)
    resolved["episodic_life"] = bool(resolved["episodic_life"]) and training
    resolved["clip_rewards"] = bool(resolved["clip_rewards"]) and training
    if resolved["crop"] is not None:
        resolved["crop"] = tuple(resolved["crop"])
    return resolved


@dataclass
class AtariGamesConfig:
    """How an actor-critic config's ALE games are made and stepped side by side: the fields
    :class:`~rlcourse.agents.a2c.A2CConfig` and :class:`~rlcourse.agents.ppo.PPOConfig` share,
    their checks, and :meth:`env_options`. A config inherits it and overrides the defaults
    that differ (the defaults here are the PPO paper's: 84x84, 4 frames, the whole screen).

    >>> AtariGamesConfig(size=42).env_options()["screen_size"]
    42
    >>> AtariGamesConfig(crop=(1, 2, 3))
    Traceback (most recent call last):
    ...
    ValueError: AtariGamesConfig.crop must be 4 numbers (top bottom left right), got (1, 2, 3)
    """

    size: int = 84
    """Observations are ``size x size`` gray images."""
    frame_stack: int = 4
    """Frames per observation (the motion the feed-forward network sees)."""
    frame_skip: int = 4
    """Each action is repeated this many emulator frames (max-pooled over the last two)."""
    noop_max: int = 30
    """Games start after 1..noop_max NOOPs, so no two start alike."""
    repeat_action_probability: float = 0.0
    """Sticky actions (0.25 in Machado et al. 2018); 0 as in the DQN and PPO papers."""
    episodic_life: bool = True
    """Training only: a lost life ends the episode (no return after it, memory reset).
    Evaluation always plays whole games."""
    vectorization: str = "ale"
    """``"ale"`` (the games stepped together in C++ threads by ale-py's ``AtariVectorEnv``:
    fast, but a resumed run restarts its games), ``"sync"`` (in this process, one by one:
    a resumed run continues exactly) or ``"async"`` (a process per game)."""
    env_threads: int = 2
    """Threads stepping the games with ``vectorization="ale"``."""
    crop: tuple[int, ...] = (0, 0, 0, 0)
    """Borders cut from the screen before the resize: top, bottom, left, right (0 0 0 0: the
    whole screen, as in the PPO paper)."""

    def __post_init__(self) -> None:
        name = type(self).__name__  # errors name the config that was given, e.g. A2CConfig
        self.crop = tuple(self.crop)
        for count in ("frame_stack", "frame_skip", "env_threads"):
            check_positive_int(f"{name}.{count}", getattr(self, count))
        # The Atari screen is 210 x 160: a larger image only repeats its pixels, and sizes far
        # beyond it would not fit in memory.
        check_number(f"{name}.size", self.size, integer=True, low=1, high=210)
        check_number(f"{name}.noop_max", self.noop_max, integer=True, low=0)
        check_number(
            f"{name}.repeat_action_probability", self.repeat_action_probability, low=0, high=1
        )
        if len(self.crop) != 4:
            raise ValueError(
                f"{name}.crop must be 4 numbers (top bottom left right), got {self.crop}"
            )
        for border in self.crop:
            check_number(f"{name}.crop[i]", border, integer=True, low=0)
        if self.vectorization not in ("sync", "async", "ale"):
            raise ValueError(
                f"vectorization must be 'sync', 'async' or 'ale', got {self.vectorization!r}"
            )

    def env_options(self) -> dict[str, Any]:
        """How this config's games are made, for :func:`make_env_for` (saved in every
        checkpoint); the rewards are not clipped (a config with a ``clip_rewards`` field,
        :class:`~rlcourse.agents.ppo.PPOConfig`, says so itself)."""
        return {
            "screen_size": self.size,
            "frame_stack": self.frame_stack,
            "frame_skip": self.frame_skip,
            "noop_max": self.noop_max,
            "repeat_action_probability": self.repeat_action_probability,
            "crop": list(self.crop) if any(self.crop) else None,
            "episodic_life": self.episodic_life,
            "clip_rewards": False,
            "fire_reset": False,
        }


@dataclass
class GameSpec:
    """A picklable ``() -> make_env_for(env_id, training=training, **options)``: how to make
    one game, which a vector of games (:class:`~rlcourse.rollouts.ParallelGames`) can also read.

    >>> make_game = GameSpec("ALE/KungFuMaster-v5", training=False, options={"screen_size": 42})
    >>> make_game().observation_space
    Box(0, 255, (4, 42, 42), uint8)
    """

    env_id: str
    training: bool
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> gym.Env:
        return make_env_for(self.env_id, training=self.training, **self.options)


def env_for_checkpoint(
    checkpoint: Any, *, training: bool = False, render_mode: str | None = None
) -> gym.Env:
    """The env a checkpoint's agent plays (its id and options; evaluation rules unless
    ``training``). ``checkpoint``: a loaded policy, its ``.checkpoint`` info, or a payload."""
    info = getattr(checkpoint, "checkpoint", checkpoint)
    if isinstance(info, dict):
        env_id, options = info["env_id"], info.get("env_options") or {}
    else:
        env_id, options = info.env_id, info.env_options
    try:
        return make_env_for(env_id, training=training, render_mode=render_mode, **options)
    except (TypeError, ValueError) as error:
        where = getattr(info, "path", "") or "the checkpoint"
        raise CheckpointError(
            f"{where}: its env {env_id!r} with options {options} cannot be made: {error}"
        ) from None
