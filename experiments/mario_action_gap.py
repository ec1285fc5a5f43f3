"""Why DQN does not learn Mario Bros. (ALE): how much one action changes the return.

A Q-network learns which action is best from the differences between Q(s, a) of the
actions: the *action gap*. This script measures it on the game itself, without a network.
It saves emulator states met in random play ("walk_and_fire": NOOP, RIGHT, LEFT, FIRE,
RIGHTFIRE, LEFTFIRE; frame skip 4, no sticky actions, as the course's env) and, from each,
plays every action first (once, or held ``h`` agent steps) and then random actions,
``rollouts`` times, up to ``horizon`` agent steps or the game's end. The mean discounted
return of each first action (gamma 0.99 a step, in pests kicked: 800 points = 1) estimates
Q_random(s, a): the values of the policy that epsilon-greedy exploration plays early on, and
that the first rounds of Q-learning's targets bootstrap on.

It prints, for each hold:

* the mean state value and the mean gap between the best and the worst first action (picked
  on half the rollouts, measured on the other half);
* the states where best and worst differ by more than two standard errors of their
  difference;
* how much the actions' true values differ (their standard deviation over the six actions,
  the noise of the estimates taken out) with an upper bound, against the noise of one
  rollout, and how many rollouts of each action a state takes, at least, before the noise
  of an action's mean falls below that bound;
* each action's value, relative to the state's mean over actions, averaged over states.

With ``--agents CHECKPOINT ...`` it also plays each agent's games (epsilon 0.05, seeds
50,000+, as ``rlcourse evaluate``) and prints the gap the agent's Q-network puts between its
best two actions against the size of its Q-values, and how often it picks each action.

    python experiments/mario_action_gap.py --out bench/results/mario_action_gap.md \
        --agents runs/ddqn_wf_s0/final.pt runs/dqn_wf_s0/final.pt

States come from games with seeds 777,300+ (never used to train or select an agent).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from rlcourse.envs import ACTION_SETS
from rlcourse.files import atomic_write

ENV_ID = "ALE/MarioBros-v5"
FRAME_SKIP = 4
GAMMA = 0.99
PEST = 800.0  # the points of a kicked pest: returns are counted in pests
NAMES = ACTION_SETS["walk_and_fire"]


class Emulator:
    """The raw ALE game stepped ``FRAME_SKIP`` frames an agent step, with saved states.

    Rollouts ignore the screen (random play does not look), so they run on the ALE alone,
    several times faster than the course's wrapped env, on the same game and frame skip.
    """

    def __init__(self) -> None:
        self.env = gym.make(ENV_ID, frameskip=1, repeat_action_probability=0.0)
        self.ale = self.env.unwrapped.ale
        meanings = self.env.unwrapped.get_action_meanings()
        action_set = self.env.unwrapped._action_set
        self.actions = [action_set[meanings.index(name)] for name in NAMES]

    def reset(self, seed: int) -> None:
        self.env.reset(seed=seed)

    def step(self, action: int) -> tuple[float, bool]:
        """(points, game over) of one agent step of action ``action`` (an index in NAMES)."""
        reward = 0.0
        for _ in range(FRAME_SKIP):
            reward += self.ale.act(self.actions[action])
            if self.ale.game_over():
                return reward, True
        return reward, False

    def discounted_return(
        self, first: int, hold: int, horizon: int, rng: np.random.Generator
    ) -> float:
        """``first`` for ``hold`` steps, then random actions; discounted pests kicked."""
        total, discount = 0.0, 1.0
        for t in range(horizon):
            action = first if t < hold else int(rng.integers(len(NAMES)))
            reward, over = self.step(action)
            total += discount * reward / PEST
            discount *= GAMMA
            if over:
                break
        return total


def collect_states(emulator: Emulator, n_states: int, seed: int, rng: np.random.Generator) -> list:
    """Emulator states met in random play: about one every 60 agent steps, after the first 30
    (the game's opening), from as many games (seeds ``seed``, ``seed + 1``, ...) as needed."""
    states, game = [], 0
    while len(states) < n_states:
        emulator.reset(seed + game)
        game, t, over = game + 1, 0, False
        while not over and len(states) < n_states:
            if t >= 30 and rng.random() < 1 / 60:
                states.append(emulator.ale.cloneState())
            _, over = emulator.step(int(rng.integers(len(NAMES))))
            t += 1
    return states


def measure(
    emulator: Emulator,
    states: list,
    hold: int,
    rollouts: int,
    horizon: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Returns, shaped (states, actions, rollouts), of each first action from each state."""
    returns = np.zeros((len(states), len(NAMES), rollouts))
    for i, state in enumerate(states):
        for a in range(len(NAMES)):
            for k in range(rollouts):
                emulator.ale.restoreState(state)
                returns[i, a, k] = emulator.discounted_return(a, hold, horizon, rng)
    return returns


def summarize(hold: int, returns: np.ndarray) -> list[str]:
    """Table rows (one for the summary, one for the actions) of one hold's returns.

    The best and worst actions of a state are picked on the first half of its rollouts and
    their gap measured on the second half: the largest of six noisy means is too large
    (picking and measuring on the same samples would find gaps in pure noise)."""
    half = returns.shape[2] // 2
    picked, test = returns[:, :, :half].mean(axis=2), returns[:, :, half:]
    q = test.mean(axis=2)  # (states, actions)
    variance = test.var(axis=2, ddof=1)
    error = np.sqrt(variance / test.shape[2])  # of each action's mean
    best, worst = picked.argmax(axis=1), picked.argmin(axis=1)
    rows = np.arange(len(q))
    gap = q[rows, best] - q[rows, worst]
    gap_error = np.sqrt(error[rows, best] ** 2 + error[rows, worst] ** 2)
    apart = int((gap > 2 * gap_error).sum())
    # How much the actions' true values differ: per state, the variance of the six means less
    # what their noise alone gives (unbiased), averaged over states, with an upper bound
    # (+2 standard errors over states); and how many rollouts of each action it takes before
    # the noise of an action's mean falls below that bound.
    means = returns.mean(axis=2)
    within = returns.var(axis=2, ddof=1).mean(axis=1)
    spread = means.var(axis=1, ddof=1) - within / returns.shape[2]
    spread_bound = spread.mean() + 2 * spread.std(ddof=1) / np.sqrt(len(spread))
    needed = within.mean() / spread_bound if spread_bound > 0 else np.inf
    relative = (means - means.mean(axis=1, keepdims=True)).mean(axis=0)
    scoring = (returns > 0).mean()
    summary = (
        f"| {hold} | {means.mean():.4f} | {scoring:.1%} | {gap.mean():+.4f} "
        f"| {apart} of {len(q)} | {np.sqrt(max(spread.mean(), 0)):.4f} "
        f"| {np.sqrt(max(spread_bound, 0)):.4f} | {np.sqrt(within.mean()):.4f} "
        f"| {needed:,.0f} |"
    )
    actions = f"| {hold} | " + " | ".join(f"{v:+.4f}" for v in relative) + " |"
    return [summary, actions]


def agent_row(path: Path, games: int) -> str:
    """A table row: a checkpoint's Q-values on its own games, and its greedy choices."""
    from rlcourse.envs import env_for_checkpoint
    from rlcourse.evaluation import EVAL_SEED, evaluate
    from rlcourse.registry import load_policy

    policy = load_policy(path)
    policy.epsilon = 0.05
    picks = np.zeros(len(NAMES), int)
    best, gaps = [], []

    def play(obs: np.ndarray) -> int:  # the agent's epsilon-greedy move, its Q-values noted
        q = policy.q_values(np.asarray(obs)[None])[0]
        top = np.sort(q)
        picks[q.argmax()] += 1
        best.append(top[-1])
        gaps.append(top[-1] - top[-2])
        return policy.choose(q)

    env = env_for_checkpoint(policy)
    scores = evaluate(play, env, games, seed=EVAL_SEED)
    env.close()
    shares = " | ".join(f"{share:.0%}" for share in picks / picks.sum())
    return (
        f"| {path.name} ({policy.checkpoint.steps:,} steps) | {np.mean(scores):.0f} "
        f"| {np.mean(best):.4f} | {np.mean(gaps):.4f} ({np.mean(gaps) / np.mean(best):.1%}) "
        f"| {shares} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--states", type=int, default=30, help="states met in random play")
    parser.add_argument("--rollouts", type=int, default=24, help="returns of each action a state")
    parser.add_argument("--horizon", type=int, default=200, help="agent steps a rollout")
    parser.add_argument(
        "--holds", type=int, nargs="+", default=[1, 8], help="agent steps the first action is held"
    )
    parser.add_argument("--seed", type=int, default=777_300)
    parser.add_argument(
        "--agents",
        type=Path,
        nargs="*",
        default=[],
        help="DQN checkpoints (Mario Bros., walk_and_fire) to study",
    )
    parser.add_argument("--agent-games", type=int, default=5, help="games of each agent")
    parser.add_argument("--out", type=Path, default=None, help="write the tables here (.md)")
    args = parser.parse_args()
    if args.states < 2 or args.rollouts < 4:
        parser.error(
            f"--states {args.states} --rollouts {args.rollouts}: the statistics need "
            "at least 2 states and 4 rollouts (two halves of 2)"
        )

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    emulator = Emulator()
    states = collect_states(emulator, args.states, args.seed, rng)
    summaries, actions = [], []
    for hold in args.holds:
        summary, per_action = summarize(
            hold, measure(emulator, states, hold, args.rollouts, args.horizon, rng)
        )
        print(summary, flush=True)
        summaries.append(summary)
        actions.append(per_action)
    lines = [
        f"Mario Bros. ({ENV_ID}), {args.states} states met in random play (seeds "
        f"{args.seed:,}+), {args.rollouts} rollouts of each first action a state, "
        f"random actions after it, {args.horizon} agent steps at most, gamma {GAMMA}; "
        "returns in pests kicked (800 points = 1)",
        "",
        "| first action held (agent steps) | mean state value | rollouts that kick a pest "
        "| gap, best - worst action (picked on half the rollouts, measured on the other) "
        "| states where best and worst are 2 errors apart "
        "| spread of the actions' values (std over actions) | its upper bound (95%) "
        "| noise of one rollout (std) | rollouts of each action a state needs, at least |",
        "|---|---|---|---|---|---|---|---|---|",
        *summaries,
        "",
        "Each action's value minus the state's mean over actions, averaged over the states:",
        "",
        "| held | " + " | ".join(NAMES) + " |",
        "|---|" + "---|" * len(NAMES),
        *actions,
        "",
    ]
    if args.agents:
        lines += [
            f"Agents on {args.agent_games} games each (seeds 50,000+, epsilon 0.05): their "
            "largest Q-value, the gap to the second largest, and how often each action is "
            "the largest:",
            "",
            "| agent | score | largest Q | gap to the second | " + " | ".join(NAMES) + " |",
            "|---|---|---|---|" + "---|" * len(NAMES),
        ]
        for path in args.agents:
            lines.append(agent_row(path, args.agent_games))
            print(lines[-1], flush=True)
        lines.append("")
    print(f"{time.perf_counter() - start:.0f} s")
    if args.out is not None:
        with atomic_write(args.out) as temporary:
            Path(temporary).write_text("\n".join(lines))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
