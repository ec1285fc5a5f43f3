"""Checks for lesson 10 (PPO with GAE): generalized advantage estimation with episode ends,
the clipped surrogate, and the update over minibatch epochs.

``check_gae`` and ``check_clipped_surrogate`` compare values and gradients with the package's
functions (:mod:`rlcourse.agents.ppo`) on small cases. ``check_ppo_update`` checks the update
by what it does, not by matching the package's numbers (any shuffle drawn from the generator
given is right): how many gradient steps it takes, that every step of the rollout is used
once per epoch, that its draws come from that generator, that its targets come from the
policy that played, and that it makes a rewarded action more likely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from rlcourse.agents.ppo import PPOConfig, clipped_surrogate, gae, ppo_update
from rlcourse.course.exercises.core import Case, check_exercise, seeded_global_rngs
from rlcourse.rollouts import Rollout

# --- GAE -----------------------------------------------------------------------------------


def _gae_case(seed: int, batch: int, steps: int, ends: float, gamma: float, lam: float) -> Any:
    rng = np.random.default_rng(seed)
    rewards = torch.tensor(rng.normal(size=(batch, steps)), dtype=torch.float32)
    values = torch.tensor(rng.normal(size=(batch, steps)), dtype=torch.float32)
    last = torch.tensor(rng.normal(size=batch), dtype=torch.float32)
    alive = torch.tensor(rng.random((batch, steps)) >= ends)
    return lambda f: f(rewards, values, last, alive, gamma, lam)


def check_gae(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``gae(rewards, values, last_values, alive, gamma, lam) -> advantages [B, T]``."""
    ones, alive = torch.ones(1, 3), torch.ones(1, 3, dtype=torch.bool)
    cases = [
        Case(
            "lam = 1, gamma = 1, no episode end: rewards 1, 1, 1, values 0, then 5",
            lambda f: f(ones, torch.zeros(1, 3), torch.tensor([5.0]), alive, 1.0, 1.0),
            rule="with lam = 1 the advantage is the discounted return, bootstrapped from "
            "the value after the rollout (last_values), minus V(s_t): 8, 7, 6 here",
        ),
        Case(
            "lam = 0: one-step TD errors",
            lambda f: f(
                ones, torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([4.0]), alive, 0.5, 0.0
            ),
            rule="with lam = 0 each advantage is the TD error r_t + gamma V(s_{t+1}) - V(s_t), "
            "with V(s_{t+1}) the next step's value, and last_values after the last step",
        ),
        Case(
            "gamma = 0.5, lam = 1: the discount of the carried advantage",
            lambda f: f(ones, torch.zeros(1, 3), torch.tensor([0.0]), alive, 0.5, 1.0),
            rule="the advantage carried back from the next step is discounted by gamma * lam, "
            "not by lam alone (here 1.75, 1.5, 1)",
        ),
        Case(
            "an episode ends at step 1 (alive False there)",
            lambda f: f(
                ones,
                torch.tensor([[0.0, 0.0, 4.0]]),
                torch.tensor([10.0]),
                torch.tensor([[True, False, True]]),
                1.0,
                1.0,
            ),
            rule="at a step that ended its episode there is no bootstrap (no gamma V of the "
            "next observation, which belongs to the next episode) and nothing is carried "
            "back across it: the sum restarts",
        ),
        Case(
            "three games, random rewards, values and ends, gamma 0.99, lam 0.95",
            _gae_case(0, 3, 8, 0.2, 0.99, 0.95),
            rule="each game is its own sum: A_t = delta_t + gamma lam alive_t A_{t+1}",
        ),
    ]
    return check_exercise(
        "gae",
        student_fn,
        gae,
        cases,
        hint="go backwards in time: compute each step's TD error, then add to it the next "
        "step's advantage discounted by gamma * lam, and let a step that ended its episode "
        "neither bootstrap nor carry anything back.",
        pointer="the GAE recursion of section 3, and Schulman et al. 2016, equations 11-16",
    )


# --- the clipped surrogate -------------------------------------------------------------------


def _surrogate(
    f: Callable[..., torch.Tensor],
    ratios: list[float],
    advantages: list[float],
    clip: float,
    item: str = "value",
    old_probabilities: list[float] | None = None,
) -> Any:
    """The loss (or its gradient) for samples whose probability ratios are ``ratios``; the
    policy that played gave them ``old_probabilities`` (1 unless given)."""
    old = torch.log(torch.tensor(old_probabilities or [1.0] * len(ratios)))
    log_probs = (old + torch.log(torch.tensor(ratios))).requires_grad_()
    loss = f(log_probs, old, torch.tensor(advantages), clip)
    if item == "value":
        return loss
    loss.backward()
    return log_probs.grad


def check_clipped_surrogate(student_fn: Callable[..., torch.Tensor]) -> Any:
    """Check ``clipped_surrogate(log_probs, old_log_probs, advantages, clip_range) -> loss``."""
    cases = [
        Case(
            "the policy that played (ratio 1), advantages 1 and -2",
            lambda f: _surrogate(f, [1.0, 1.0], [1.0, -2.0], 0.2),
            rule="the loss is minus the mean of ratio * advantage: a loss to minimise, so "
            "its sign is the objective's opposite (0.5 here)",
        ),
        Case(
            "ratio 1.5 with a positive advantage, clip 0.2",
            lambda f: _surrogate(f, [1.5], [1.0], 0.2),
            rule="a ratio above 1 + clip_range with a positive advantage counts as 1 + "
            "clip_range: the objective gains nothing from pushing further",
        ),
        Case(
            "ratio 0.5 with a negative advantage, clip 0.2",
            lambda f: _surrogate(f, [0.5], [-1.0], 0.2),
            rule="a ratio below 1 - clip_range with a negative advantage counts as 1 - clip_range",
        ),
        Case(
            "ratios moved the wrong way: 1.5 with a negative advantage, 0.5 with a positive",
            lambda f: _surrogate(f, [1.5, 0.5], [-1.0, 1.0], 0.2),
            rule="the objective takes the smaller (more pessimistic) of the clipped and "
            "unclipped terms: a move against the advantage is never clipped away",
        ),
        Case(
            "clip_range 0.1: ratio 1.15 with a positive advantage, 0.85 with a negative",
            lambda f: _surrogate(f, [1.15, 0.85], [1.0, -1.0], 0.1),
            rule="the ratio is clipped to [1 - clip_range, 1 + clip_range] with the "
            "clip_range given (0.9 to 1.1 here), not a fixed 0.2",
        ),
        Case(
            "the policy that played gave the actions probabilities 0.5 and 0.25 (ratios 1.1 "
            "and 0.7, advantages 1 and -1)",
            lambda f: _surrogate(f, [1.1, 0.7], [1.0, -1.0], 0.2, old_probabilities=[0.5, 0.25]),
            rule="the ratio is the new probability over the one of the policy that played, "
            "exp(log_probs - old_log_probs): it is 1 only where the two policies agree",
        ),
        Case(
            "gradients with respect to the log-probabilities",
            lambda f: _surrogate(f, [1.05, 1.5, 0.5, 1.5], [1.0, 1.0, 1.0, -1.0], 0.2, "gradient"),
            rule="a sample clipped in the advantage's favour earns no gradient; the others "
            "get ratio * advantage / N, with the ratio computed as exp(log_probs - "
            "old_log_probs) from the log-probabilities given",
        ),
    ]
    return check_exercise(
        "clipped_surrogate",
        student_fn,
        clipped_surrogate,
        cases,
        hint="form the probability ratio from the two log-probabilities, build the plain "
        "and the clipped weighted advantages, keep the smaller of the two for each sample, "
        "and return minus their mean.",
        pointer="the clipped objective L^CLIP of section 2 (Schulman et al. 2017, eq. 7), "
        "and torch.clamp and torch.min in PyTorch's documentation",
    )


# --- the update over minibatch epochs ----------------------------------------------------------


class TableActorCritic(nn.Module):
    """Logits and value looked up by the observation's first pixel, no memory: a network
    whose every output is known by hand."""

    obs_shape = (1, 1, 1)
    n_actions = 2

    def __init__(self, states: int = 4) -> None:
        super().__init__()
        self.table_logits = nn.Parameter(torch.zeros(states, 2))
        self.table_values = nn.Parameter(torch.zeros(states))
        self.rows_seen: list[torch.Tensor] = []

    def initial_memory(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(batch_size, 0), torch.zeros(batch_size, 0)

    def forward(self, observation: torch.Tensor, memory: Any) -> Any:
        index = observation.reshape(len(observation), -1)[:, 0].long()
        if torch.is_grad_enabled():
            self.rows_seen.append(observation.reshape(len(observation), -1)[:, 1].clone())
        return memory, self.table_logits[index], self.table_values[index]


def _bandit(seed: int, games: int = 4, steps: int = 3) -> Rollout:
    """Reward 1 for action 0; each observation carries its state and its row number."""
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 2, size=(games, steps))
    observations = np.zeros((games, steps, 1, 1, 2), np.uint8)
    observations[..., 0] = np.arange(steps)[None, :, None, None]
    observations[..., 1] = np.arange(games * steps).reshape(games, steps, 1, 1)
    return Rollout(
        observations,
        actions,
        (actions == 0).astype(np.float32),
        np.zeros((games, steps), bool),
        np.zeros((games, steps), bool),
        np.zeros((games, steps), np.float32),
        np.zeros((games, 1, 1, 2), np.uint8),
        (torch.zeros(games, 0), torch.zeros(games, 0)),
    )


def _run_update(fn: Callable[..., Any], seed: int = 0, **config: Any) -> dict[str, Any]:
    """One update on a bandit rollout; what it did, for the cases below."""
    options: dict[str, Any] = {"n_games": 4, "rollout_length": 3, "epochs": 3, "minibatches": 4}
    options.update(config)
    network = TableActorCritic()
    optimizer = torch.optim.SGD(network.parameters(), lr=0.5)
    steps: list[int] = []
    original_step = optimizer.step

    def counted_step(*args: Any, **kwargs: Any) -> Any:
        steps.append(1)
        return original_step(*args, **kwargs)

    optimizer.step = counted_step  # type: ignore[method-assign]
    generator = torch.Generator().manual_seed(seed)
    state = generator.get_state()
    # A student drawing from a global generator draws the same here each time; the
    # kernel's global states are put back afterwards.
    with seeded_global_rngs(12345):
        stats = fn(network, optimizer, _bandit(1), PPOConfig(**options), generator)
    rows = torch.cat(network.rows_seen).long() if network.rows_seen else torch.zeros(0)
    probs = torch.softmax(network.table_logits.detach()[:3], -1)[:, 0]
    return {
        "steps": len(steps),
        "rows": torch.bincount(rows, minlength=12).tolist(),
        "used generator": not torch.equal(generator.get_state(), state),
        "weights": network.table_logits.detach().clone(),
        "probs": probs,
        "stats": stats,
    }


def _compare_update(expected: Any, got: Any) -> str | None:
    return None if expected == got else f"expected {expected}, got {got}"


def check_ppo_update(student_fn: Callable[..., Any]) -> Any:
    """Check ``ppo_update(network, optimizer, rollout, config, generator) -> stats`` by what it
    does (any shuffle drawn from ``generator`` is right)."""
    cases = [
        Case(
            "how many gradient steps: 3 epochs of 4 minibatches",
            lambda f: _run_update(f)["steps"],
            rule="one optimizer step per minibatch: epochs x minibatches steps in all",
            compare=_compare_update,
        ),
        Case(
            "2 epochs of 3 minibatches",
            lambda f: _run_update(f, epochs=2, minibatches=3)["steps"],
            rule="the number of minibatches and of epochs come from the config",
            compare=_compare_update,
        ),
        Case(
            "which steps of the rollout each epoch learns from",
            lambda f: _run_update(f)["rows"],
            rule="each epoch shuffles the rollout's 12 steps into minibatches: every step "
            "is used exactly once per epoch (3 times in 3 epochs), none twice, none left out",
            compare=_compare_update,
        ),
        Case(
            "where the shuffles come from",
            lambda f: _run_update(f)["used generator"],
            rule="the shuffles are drawn from the generator given (so a run is reproducible "
            "and resumes exactly), not from torch's or NumPy's global random state",
            compare=_compare_update,
        ),
        Case(
            "the same generator state twice",
            lambda f: bool(
                torch.equal(_run_update(f, seed=3)["weights"], _run_update(f, seed=3)["weights"])
            ),
            rule="the same generator state gives the same shuffles and the same weights",
            compare=_compare_update,
        ),
        Case(
            "2 epochs of one minibatch (the whole rollout, so no shuffle matters): the weights",
            lambda f: _run_update(f, epochs=2, minibatches=1)["weights"],
            rule="each step minimises your clipped surrogate + value_coef x the value loss "
            "(clipped like the ratio when config.clip_value) - entropy_coef x the entropy, "
            "with the minibatch's advantages normalised (config.normalize_advantages), fresh "
            "gradients (zero them before each backward pass), the gradient's norm clipped to "
            "config.max_grad_norm, and the targets of the policy that played, computed once "
            "before the first step",
        ),
        Case(
            "does it learn: reward 1 for action 0 (its mean probability after one update)",
            lambda f: bool(_run_update(f, epochs=4, minibatches=2)["probs"].mean() > 0.5),
            rule="the clipped objective makes the rewarded action more likely "
            "(advantages from the rollout_targets of the policy that played, the loss "
            "minimised, its gradient clipped to max_grad_norm)",
            compare=_compare_update,
        ),
        Case(
            "the statistics returned",
            lambda f: sorted(
                k
                for k in _run_update(f)["stats"]
                if k in ("loss", "policy_loss", "value_loss", "entropy")
            ),
            rule="it returns a dict with (at least) the mean loss, policy_loss, value_loss "
            "and entropy over its steps",
            compare=_compare_update,
        ),
    ]
    return check_exercise(
        "ppo_update",
        student_fn,
        ppo_update,
        cases,
        hint="compute the targets once (rollout_targets), then for each epoch draw a fresh "
        "permutation of the rollout's minibatch units from the generator, cut it into "
        "config.minibatches pieces, and for each piece: forward it (forward_minibatch), "
        "combine your clipped surrogate, the value loss and the entropy bonus, and take one "
        "clipped gradient step.",
        pointer="section 4's outline of the update, and CleanRL's ppo_atari.py (the loop "
        "over update_epochs and minibatches)",
    )


__all__ = ["check_clipped_surrogate", "check_gae", "check_ppo_update"]
