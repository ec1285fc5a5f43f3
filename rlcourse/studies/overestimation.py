"""Overestimation, measured: DQN vs Double DQN on a tiny MDP (van Hasselt et al. 2016, Fig. 3).

DQN's target ``r + gamma * max_a' Q(s', a')`` takes the max over *noisy estimates*, and the
max of noisy estimates is biased upwards even when every estimate is unbiased. Double DQN
lets one network pick the action and another rate it, which removes much of that bias.

The study trains the course's own agent (:class:`~rlcourse.agents.dqn.DQN`, ``double=False``
and ``double=True``) on :class:`MaximizationBiasEnv` and, every ``record_every`` steps, puts
two numbers side by side for the start state:

* **predicted**: ``max_a Q(s0, a)``, what the online network believes the state is worth;
* **actual**: the discounted return the greedy policy really obtains from ``s0``
  (Monte Carlo over ``eval_episodes`` episodes).

An unbiased learner keeps the two close. DQN's prediction sits far above what it obtains,
and the bias also costs it return: it keeps walking into a corridor whose true value is
negative. Double DQN's prediction stays much closer to what it obtains, and it enters the
corridor less often. Only less: the course's Double DQN rates actions with the target
network, a recent copy trained on the same replay data, so the errors the two networks
share are not removed (see ``StudyConfig.target_update_interval``).

    rlcourse study overestimation --out runs/study

writes ``overestimation.csv`` and ``overestimation.png`` there (about 4 CPU-minutes on one
core). The course's study ships with the package (``rlcourse/pretrained/overestimation.csv``,
:func:`shipped_study`), so lesson 06 shows it in Colab too. :func:`run_study` and
:func:`plot_overestimation` do the same from a notebook; ``RLCOURSE_SMOKE=1`` shrinks the
budget to a few seconds.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from rlcourse import pretrained
from rlcourse.agents.dqn import DQN, DQNConfig
from rlcourse.budget import budget
from rlcourse.config import check_number, check_positive_int
from rlcourse.episodes import evaluate
from rlcourse.files import atomic_write
from rlcourse.plots import finish_figure
from rlcourse.stats import bootstrap_ci, difference_ci
from rlcourse.training import progress_bar, train_dqn

ALGOS = ("DQN", "Double DQN")
COLORS = {"DQN": "tab:red", "Double DQN": "tab:blue"}


# --- the environment -------------------------------------------------------------------------


class MaximizationBiasEnv(gym.Env[np.ndarray, int]):
    """Sutton & Barto's maximization-bias MDP (Example 6.7), for function approximation.

    A start state ``A`` and a corridor of ``length`` states ``B_1 ... B_length``, all with
    ``n_actions`` actions:

    * in ``A``, action 0 ends the episode with reward 0; every other action moves to ``B_1``
      with reward 0;
    * in ``B_i``, every action moves on to ``B_(i+1)`` (the last one ends the episode) with
      a reward drawn from ``Normal(reward_mean, reward_std)`` (the env's own seeded
      ``np_random``).

    ``length=1`` is the book's example. With ``reward_mean < 0`` the optimal value of ``A``
    is 0 (leave at once), while the corridor is worth ``reward_mean * (gamma + ... +
    gamma^length)`` (:meth:`path_value`). All actions of a ``B`` state are worth the same,
    but the max over ``n_actions`` noisy estimates of them is biased upwards, and
    bootstrapping adds the bias up along the corridor: a learner that takes that max
    believes the corridor is worth entering. Observations are one-hot float32 vectors over
    ``[A, B_1, ..., B_length]`` (all zeros once the episode has ended).

    >>> env = MaximizationBiasEnv(n_actions=4, length=2)
    >>> env.observation_space, env.action_space
    (Box(0.0, 1.0, (3,), float32), Discrete(4))
    >>> env.reset(seed=0)[0]
    array([1., 0., 0.], dtype=float32)
    >>> env.step(0)[1:3]  # leave at once: reward 0, episode over
    (0.0, True)
    >>> env.reset()[0], env.step(1)[0]  # or enter the corridor
    (array([1., 0., 0.], dtype=float32), array([0., 1., 0.], dtype=float32))
    """

    A = 0

    def __init__(
        self,
        n_actions: int = 8,
        reward_mean: float = -0.1,
        reward_std: float = 1.0,
        length: int = 1,
    ) -> None:
        n_actions = check_number("n_actions", n_actions, integer=True, low=2)
        length = check_positive_int("length", length)
        if not np.isfinite(check_number("reward_mean", reward_mean)):
            raise ValueError(f"reward_mean must be finite, got {reward_mean!r}")
        if not np.isfinite(check_number("reward_std", reward_std, low=0)):
            raise ValueError(f"reward_std must be finite, got {reward_std!r}")
        self.n_actions = n_actions
        self.reward_mean = float(reward_mean)
        self.reward_std = float(reward_std)
        self.length = length
        self.observation_space = gym.spaces.Box(0.0, 1.0, (length + 1,), np.float32)
        self.action_space = gym.spaces.Discrete(n_actions)  # type: ignore[assignment]
        self.state: int | None = None

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.length + 1, np.float32)
        if self.state is not None:
            obs[self.state] = 1.0
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.state = self.A
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.state is None:
            raise RuntimeError("the episode has ended: call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in 0..{self.n_actions - 1}, got {action!r}")
        if self.state == self.A:
            if int(action) == 0:
                self.state = None
                return self._obs(), 0.0, True, False, {}
            self.state = 1
            return self._obs(), 0.0, False, False, {}
        reward = float(self.np_random.normal(self.reward_mean, self.reward_std))
        self.state = self.state + 1 if self.state < self.length else None
        return self._obs(), reward, self.state is None, False, {}

    def path_value(self, gamma: float) -> float:
        """Expected discounted return from ``A`` of entering the corridor (any actions after)."""
        return self.reward_mean * sum(gamma**i for i in range(1, self.length + 1))

    def optimal_value(self, gamma: float) -> float:
        """``V*(A)``: the better of leaving at once (0) and entering the corridor."""
        return max(0.0, self.path_value(gamma))


def cached_greedy(agent: DQN) -> Callable[[np.ndarray], int]:
    """``agent.greedy`` remembered per observation: exact while the weights stay fixed, and
    a thousand evaluation episodes then cost one forward pass per state, not thousands."""
    cache: dict[bytes, int] = {}

    def policy(obs: np.ndarray) -> int:
        key = np.asarray(obs).tobytes()
        if key not in cache:
            cache[key] = agent.greedy(obs)
        return cache[key]

    return policy


# --- the study -------------------------------------------------------------------------------


@dataclass
class StudyConfig:
    """What the overestimation study trains, on what, and how often it measures.

    The defaults are tuned so that the effect is clear within ~2 CPU-minutes (all 5 seeds).
    """

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """One DQN and one Double DQN run per seed (same seed: same initial weights, exploration
    and env stream, so the two algorithms differ only in their targets)."""
    total_steps: int = field(default_factory=lambda: budget(full=8_000, smoke=300))
    """Env steps per run (full budget, or the smoke one under ``RLCOURSE_SMOKE=1``)."""
    record_every: int = field(default_factory=lambda: budget(full=250, smoke=100))
    """Env steps between two measurements (one at step 0 as well)."""
    eval_episodes: int = field(default_factory=lambda: budget(full=1_000, smoke=50))
    """Greedy episodes per measurement of the obtained return (a corridor return has a
    standard deviation of ~2.8: 1,000 episodes measure its mean to ~0.09 per seed)."""
    n_actions: int = 8
    """Actions in each state: the more noisy estimates the max runs over, the larger its bias."""
    length: int = 8
    """Noisy corridor states after the start (1: Sutton & Barto's example). Bootstrapping adds
    one max-bias per state, so a longer corridor shows the effect more clearly."""
    reward_mean: float = -0.1
    """Mean reward of a corridor step (negative: entering the corridor is a mistake)."""
    reward_std: float = 1.0
    """Standard deviation of a corridor step's reward: the noise the max operator feeds on."""
    gamma: float = 0.99
    """Discount factor of the agents and of the measured returns."""
    lr: float = 1e-2
    """Adam learning rate. High for so small a problem on purpose: like the step size 0.1 of
    the book's tabular example, it keeps the estimates noisy, as they stay in deep RL."""
    batch_size: int = 32
    """Transitions per gradient step."""
    buffer_size: int = 2_000
    """Replay memory capacity. A sliding window over the last 2,000 steps, like Atari's 1M
    transitions over a run of 50M frames: the estimates never average over all data, so
    their noise, and the bias it causes, persists instead of fading as data pile up."""
    learning_starts: int = 200
    """Steps of pure exploration before the first update."""
    exploration_steps: int = 1_000
    """Steps over which epsilon falls from 1 to ``epsilon_end``."""
    epsilon_end: float = 0.1
    """Final exploration rate (as in the book's example): the corridor keeps being visited."""
    target_update_interval: int = 300
    """Env steps between hard target-network copies (``tau=1``), the same for both
    algorithms. In the course's Double DQN the target network is the second estimator, so
    the bias reduction is only as good as the two networks are independent: copied every
    step, Double DQN *is* DQN; copied every 300 steps (300 gradient steps at lr 1e-2), the
    networks' fluctuations are largely decorrelated, while the targets still follow the
    online net within a few hundred steps. Errors both networks share (from the same replay
    data) are not removed: the reduction is partial, as in van Hasselt et al. 2016."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Widths of the Q-network's hidden layers."""

    def __post_init__(self) -> None:
        self.seeds = tuple(
            check_number("StudyConfig.seeds", s, integer=True, low=0, high=2**32 - 1)
            for s in self.seeds
        )
        self.hidden_sizes = tuple(self.hidden_sizes)
        if not self.seeds:
            raise ValueError("StudyConfig.seeds must name at least one seed, got ()")
        for name in ("total_steps", "record_every", "eval_episodes"):
            check_positive_int(f"StudyConfig.{name}", getattr(self, name))
        if self.record_every > self.total_steps:
            raise ValueError(
                f"StudyConfig.record_every={self.record_every} exceeds "
                f"total_steps={self.total_steps}: nothing would be recorded after step 0"
            )
        if self.learning_starts < self.batch_size:
            raise ValueError(
                f"StudyConfig.learning_starts={self.learning_starts} is below "
                f"batch_size={self.batch_size}: the first update would find too few transitions"
            )
        self.make_env()  # the env checks its own arguments
        self.dqn_config(double=False, seed=0)  # and DQNConfig the agent's

    def make_env(self) -> MaximizationBiasEnv:
        return MaximizationBiasEnv(self.n_actions, self.reward_mean, self.reward_std, self.length)

    def dqn_config(self, double: bool, seed: int) -> DQNConfig:
        """The agent's config: the same for both algorithms but for ``double``."""
        return DQNConfig(
            gamma=self.gamma,
            lr=self.lr,
            batch_size=self.batch_size,
            buffer_size=self.buffer_size,
            learning_starts=self.learning_starts,
            target_update_interval=self.target_update_interval,
            tau=1.0,
            epsilon_end=self.epsilon_end,
            exploration_steps=self.exploration_steps,
            hidden_sizes=self.hidden_sizes,
            double=double,
            seed=seed,
            device="cpu",
        )


class StudyResult(NamedTuple):
    """Measurements of :func:`run_study`; arrays are indexed ``[algo, seed, record]``."""

    algos: tuple[str, ...]
    """Names of the algorithms, in the order of the first array axis."""
    seeds: np.ndarray
    """The seeds, in the order of the second axis."""
    steps: np.ndarray
    """Env steps at which each measurement was taken (third axis)."""
    predicted: np.ndarray
    """``max_a Q(s0, a)`` of the online network."""
    actual: np.ndarray
    """Mean discounted return the greedy policy obtained from ``s0`` (Monte Carlo)."""
    optimal: float
    """The true optimal value of ``s0`` (0: leave at once)."""
    corridor: float
    """The true value of entering the corridor (what a policy that enters it obtains)."""
    wall_seconds: float
    """Wall-clock time the study took."""
    cpu_seconds: float
    """CPU time it took (the same as the wall time on an idle core)."""

    def means(self, last: int | None = None) -> dict[str, tuple[float, float]]:
        """Per algorithm, (predicted, actual) averaged over seeds and the ``last`` records
        (all records when ``None``)."""
        start = 0 if last is None else -last
        return {
            algo: (
                float(self.predicted[i, :, start:].mean()),
                float(self.actual[i, :, start:].mean()),
            )
            for i, algo in enumerate(self.algos)
        }

    def overestimates(self, last: int | None = None) -> dict[str, np.ndarray]:
        """Per algorithm, each seed's overestimate (predicted - obtained), averaged over the
        ``last`` records (all when ``None``): one number a seed, the runs of a comparison."""
        start = 0 if last is None else -last
        gaps = self.predicted[:, :, start:] - self.actual[:, :, start:]
        return {algo: gaps[i].mean(axis=1) for i, algo in enumerate(self.algos)}


class RunCurves(NamedTuple):
    """One run's measurements, one entry per recorded step."""

    predicted: np.ndarray
    actual: np.ndarray


def run_one(
    config: StudyConfig, double: bool, seed: int, on_step: Callable[[], Any] | None = None
) -> RunCurves:
    """Train one agent with the course's DQN loop (:func:`rlcourse.training.train_dqn`)
    and measure it every ``record_every`` steps."""
    env, eval_env = config.make_env(), config.make_env()
    agent = DQN(env.observation_space, env.action_space, config.dqn_config(double, seed))
    start, _ = config.make_env().reset(seed=seed)  # s0: every episode starts there
    # The same evaluation episodes for both algorithms at a given step (common random
    # numbers): their dashed lines differ by their policies, not by the draws.
    # Measurement k plays episodes eval_seed + k * eval_episodes + i: no seed is reused.
    eval_seed = 10**9 * (seed + 1)
    predicted: list[float] = []
    actual: list[float] = []

    def measure() -> None:
        predicted.append(float(agent.q_values(start).max()))
        returns = evaluate(
            cached_greedy(agent),
            eval_env,
            config.eval_episodes,
            seed=eval_seed + len(actual) * config.eval_episodes,
            gamma=config.gamma,
        )
        actual.append(float(returns.mean()))

    def after_step(agent: DQN) -> None:
        if agent.steps % config.record_every == 0:
            measure()
        if on_step is not None:
            on_step()

    measure()
    train_dqn(agent, env, config.total_steps, progress=False, on_step=after_step)
    return RunCurves(np.array(predicted), np.array(actual))


def run_study(config: StudyConfig | None = None, progress: bool = True) -> StudyResult:
    """Train DQN and Double DQN for every seed of ``config`` and collect their curves.

    Runs on one CPU thread (the networks are tiny: more threads only add overhead) and
    restores torch's thread count afterwards.
    """
    config = config or StudyConfig()
    steps = np.arange(0, config.total_steps + 1, config.record_every)
    shape = (len(ALGOS), len(config.seeds), len(steps))
    predicted, actual = np.zeros(shape), np.zeros(shape)
    total = len(ALGOS) * len(config.seeds) * config.total_steps
    bar = progress_bar(total, "overestimation study", enabled=progress)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        for j, seed in enumerate(config.seeds):
            for i, algo in enumerate(ALGOS):
                bar.set_postfix(algo=algo, seed=seed, refresh=False)
                curves = run_one(config, algo == "Double DQN", seed, on_step=lambda: bar.update(1))
                predicted[i, j], actual[i, j] = curves
    finally:
        bar.close()
        torch.set_num_threads(threads)
    env = config.make_env()
    return StudyResult(
        algos=ALGOS,
        seeds=np.array(config.seeds),
        steps=steps,
        predicted=predicted,
        actual=actual,
        optimal=env.optimal_value(config.gamma),
        corridor=env.path_value(config.gamma),
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )


# --- output ----------------------------------------------------------------------------------


def plot_overestimation(
    result: StudyResult, path: str | Path | None = None, title: str | None = None
) -> Any:
    """Predicted value (solid: mean over seeds; band: min to max over seeds) against the
    discounted return actually obtained (dashed, same colour), over training, for DQN and
    Double DQN (van Hasselt et al. 2016, Fig. 3). Thin lines: the true value of the start
    state (black) and of entering the corridor (grey). ``title``: a first line of the title
    (e.g. a CI-size run's label, :class:`rlcourse.budget.RunSize`). Saved to ``path``
    (atomically) when given; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    figure, ax = plt.subplots(figsize=(7.5, 5))
    for i, algo in enumerate(result.algos):
        color = COLORS.get(algo, f"C{i}")
        predicted, actual = result.predicted[i], result.actual[i]
        ax.plot(
            result.steps,
            predicted.mean(0),
            color=color,
            lw=2,
            label=f"{algo}: predicted value " + r"$\mathrm{max}_a\,Q(s_0, a)$",
        )
        ax.fill_between(result.steps, predicted.min(0), predicted.max(0), color=color, alpha=0.2)
        ax.plot(
            result.steps,
            actual.mean(0),
            color=color,
            lw=1.5,
            ls="--",
            label=f"{algo}: discounted return obtained (greedy)",
        )
    ax.axhline(result.optimal, color="black", lw=0.8, label="true value of $s_0$ (optimal)")
    ax.axhline(
        result.corridor, color="grey", lw=0.8, ls=":", label="true value of entering the corridor"
    )
    ax.set_title(
        f"{title or 'Overestimation: DQN vs Double DQN on MaximizationBiasEnv'}\n"
        f"mean over {len(result.seeds)} seeds, band: min to max over seeds"
    )
    ax.set_xlabel("env steps")
    ax.set_ylabel("value of the start state $s_0$")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    return finish_figure(figure, None, path, dpi=110)


def write_csv(result: StudyResult, path: str | Path) -> Path:
    """One row per measurement: step, algo, seed, predicted, actual (atomically written)."""
    path = Path(path)
    with atomic_write(path) as temporary, open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["step", "algo", "seed", "predicted", "actual"])
        for i, algo in enumerate(result.algos):
            for j, seed in enumerate(result.seeds):
                for k, step in enumerate(result.steps):
                    writer.writerow(
                        [
                            int(step),
                            algo,
                            int(seed),
                            f"{result.predicted[i, j, k]:.5f}",
                            f"{result.actual[i, j, k]:.5f}",
                        ]
                    )
    return path


def read_study_csv(path: str | Path, config: StudyConfig | None = None) -> StudyResult:
    """A study back from :func:`write_csv`'s file, for plotting (``make results``).

    The CSV holds the measurements only: the true values come from ``config``'s env (the
    default study's if None), and the times are NaN.
    """
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows or set(rows[0]) != {"step", "algo", "seed", "predicted", "actual"}:
        raise ValueError(f"{path} is not an overestimation study CSV (see write_csv)")
    algos = tuple(dict.fromkeys(row["algo"] for row in rows))
    seeds = np.array(sorted({int(row["seed"]) for row in rows}))
    steps = np.array(sorted({int(row["step"]) for row in rows}))
    predicted = np.full((len(algos), len(seeds), len(steps)), np.nan)
    actual = predicted.copy()
    for row in rows:
        index = (
            algos.index(row["algo"]),
            int(np.searchsorted(seeds, int(row["seed"]))),
            int(np.searchsorted(steps, int(row["step"]))),
        )
        predicted[index], actual[index] = float(row["predicted"]), float(row["actual"])
    config = config or StudyConfig()
    env = config.make_env()
    return StudyResult(
        algos=algos,
        seeds=seeds,
        steps=steps,
        predicted=predicted,
        actual=actual,
        optimal=env.optimal_value(config.gamma),
        corridor=env.path_value(config.gamma),
        wall_seconds=math.nan,
        cpu_seconds=math.nan,
    )


SHIPPED = "overestimation.csv"
"""The course's study (5 seeds, 8,000 steps a run), shipped in :mod:`rlcourse.pretrained`."""


def shipped_study() -> StudyResult:
    """The course's study, read from its CSV shipped with the package (lesson 06)."""
    return read_study_csv(pretrained.path(SHIPPED))


def summary(result: StudyResult, last: int = 5) -> str:
    """A few lines: predicted vs obtained value per algorithm, over the run and at its end."""
    n = len(result.seeds)
    lines = []
    for title, last_records in (("whole run", None), (f"last {last} records", last)):
        lines.append(f"{title} (mean over {n} seeds):")
        for algo, (predicted, actual) in result.means(last_records).items():
            lines.append(
                f"  {algo:<10}  predicted {predicted:+.3f}  obtained {actual:+.3f}  "
                f"overestimate {predicted - actual:+.3f}"
            )
    lines.append(
        f"true values: start state {result.optimal:+.3f}, corridor {result.corridor:+.3f}; "
        f"took {result.wall_seconds:.0f} s ({result.cpu_seconds:.0f} CPU-s)"
    )
    return "\n".join(lines)


def compare(result: StudyResult, last: int | None = None, rng: int = 0) -> str:
    """DQN against Double DQN over the seeds, with :mod:`rlcourse.stats`: each algorithm's
    overestimate (one number a seed: :meth:`StudyResult.overestimates`) as an IQM with its 95%
    bootstrap interval over seeds, their difference with its own interval, and on how many
    seeds DQN's is the larger. With fewer than 3 seeds it says so and gives no interval."""
    gaps = result.overestimates(last)
    n = len(result.seeds)
    span = "whole run" if last is None else f"last {last} records"
    lines = [f"overestimate of each seed ({span}), {n} seed{'s' if n != 1 else ''}:"]
    if n < 3:
        for algo, values in gaps.items():
            lines.append(f"  {algo:<10}  " + ", ".join(f"{v:+.3f}" for v in values))
        lines.append(f"  {n} seed{'s' if n != 1 else ''}: too few to compare (3 or more needed)")
        return "\n".join(lines)
    for algo, values in gaps.items():
        lines.append(f"  {algo:<10}  {bootstrap_ci(values, rng=rng)}")
    if len(gaps) == 2:
        (first, a), (second, b) = gaps.items()
        difference = difference_ci(a, b, rng=rng)
        verdict = "separates them" if difference.low > 0 or difference.high < 0 else "holds 0"
        lines.append(f"  {first} - {second}: {difference}: the interval {verdict}")
        lines.append(f"  {first}'s is the larger on {int((a > b).sum())} of {n} seeds")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's command-line options (``rlcourse study overestimation``)."""
    parser.add_argument("--out", default="runs/study", help="folder for the CSV and PNG")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0 1 2 3 4")
    parser.add_argument("--total-steps", type=int, default=None, help="env steps per run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def study_config_from_args(args: argparse.Namespace) -> StudyConfig:
    """The study's config from the options (bad values raise ValueError/TypeError)."""
    overrides: dict[str, Any] = {}
    if args.seeds is not None:
        overrides["seeds"] = tuple(args.seeds)
    if args.total_steps is not None:
        overrides["total_steps"] = args.total_steps
    return StudyConfig(**overrides)


def run_from_args(args: argparse.Namespace, config: StudyConfig) -> StudyResult:
    result = run_study(config, progress=not args.no_progress)
    out = Path(args.out)
    csv_path = write_csv(result, out / "overestimation.csv")
    png_path = out / "overestimation.png"
    plot_overestimation(result, png_path)
    print(summary(result))
    print(f"wrote {csv_path} and {png_path}")
    return result


def main(argv: Sequence[str] | None = None) -> StudyResult:
    parser = argparse.ArgumentParser(
        prog="python -m rlcourse.studies.overestimation", description=DESCRIPTION
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_from_args(args, study_config_from_args(args))


DESCRIPTION = (
    "DQN vs Double DQN on MaximizationBiasEnv: predicted value of the start state against "
    "the discounted return obtained (writes overestimation.csv and .png)."
)


if __name__ == "__main__":
    main()
