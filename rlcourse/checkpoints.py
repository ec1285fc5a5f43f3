"""One checkpoint format for every algorithm, written atomically and loaded safely.

A checkpoint is a dict saved with ``torch.save`` and read back with
``torch.load(..., weights_only=True)`` (no pickled code runs when a file is opened):

========================  ==================================================================
``format``                ``"rlcourse-checkpoint"``
``format_version``        :data:`FORMAT_VERSION`; a newer file says "upgrade rlcourse"
``algo``                  ``"dqn"``, ``"a2c"``, ...
``env_id``                e.g. ``"ALE/MsPacman-v5"``
``env_options``           how the env was made beyond its id (e.g. ``{"actions": "right"}``)
``config``                the algorithm's config dataclass as a plain dict
``network_spec``          :func:`rlcourse.networks.network_spec` of the policy's network
``weights``               the network's ``state_dict`` (fp16 in exported files)
``steps``                 agent steps trained
``weights_sha256``        a checksum of the weights, checked on load (version 3 on)
``rng``                   random-generator states (exploration, sampling)
``resume``                only in a resume point: optimizer, target net, replay memory, the
                          loop's state, the games in progress
========================  ==================================================================

This module is the format only; which algorithms exist, and how each one's checkpoint plays,
is :mod:`rlcourse.registry` (:func:`rlcourse.registry.load_policy` turns any checkpoint into a
ready policy, without the training machinery).
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from rlcourse.errors import CheckpointError
from rlcourse.files import atomic_write, write_failure
from rlcourse.networks import build_network

__all__ = ["CheckpointError", "CheckpointInfo", "load_checkpoint", "save_checkpoint"]

FORMAT = "rlcourse-checkpoint"
FORMAT_VERSION = 3
"""Version 1 was the two per-algorithm formats before the one-stack redesign; version 3 added
``weights_sha256`` (version 2 files, such as older shipped agents, load without it)."""
REQUIRED_KEYS = ("algo", "env_id", "env_options", "config", "network_spec", "weights", "steps")


class CheckpointInfo(NamedTuple):
    """What a checkpoint says about the agent in it."""

    algo: str
    env_id: str
    env_options: dict[str, Any]
    config: dict[str, Any]
    steps: int
    path: str

    @classmethod
    def from_payload(cls, payload: dict[str, Any], path: str | os.PathLike = "") -> CheckpointInfo:
        return cls(
            payload["algo"],
            payload["env_id"],
            dict(payload["env_options"]),
            dict(payload["config"]),
            int(payload["steps"]),
            str(path),
        )


def to_saveable(value: Any) -> Any:
    """NumPy arrays -> tensors, recursively, so ``weights_only=True`` can load the file."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, dict):
        return {key: to_saveable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_saveable(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def weights_digest(weights: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict: every tensor's name, dtype, shape and bytes, in name order.

    >>> weights_digest({"w": torch.zeros(2)}) == weights_digest({"w": torch.zeros(2)})
    True
    >>> weights_digest({"w": torch.zeros(2)}) == weights_digest({"w": torch.ones(2)})
    False
    """
    digest = hashlib.sha256()
    for name in sorted(weights):
        tensor = weights[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` with ``torch.save`` atomically: a temporary file, then a rename; its
    weights' checksum (``weights_sha256``) goes with it.

    A crash mid-write leaves the previous checkpoint intact, never a half-written file; a
    write that fails (a full disk) raises :class:`~rlcourse.errors.WriteError` naming the
    file and the cause.
    """
    path = Path(path)
    if isinstance(payload.get("weights"), dict):
        payload = {**payload, "weights_sha256": weights_digest(payload["weights"])}
    with atomic_write(path) as temporary:
        try:
            torch.save(to_saveable(payload), temporary)
        except RuntimeError as error:  # torch reports a failed write (a full disk) this way
            raise write_failure(path, error) from None
    return path


def make_checkpoint(
    *,
    algo: str,
    env_id: str,
    env_options: dict[str, Any] | None,
    config: dict[str, Any],
    network_spec: dict[str, Any],
    weights: dict[str, torch.Tensor],
    steps: int,
    rng: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A checkpoint dict in the current format (see the module's table)."""
    if not isinstance(algo, str) or not algo:
        raise ValueError(f"algo must be an algorithm's name, got {algo!r}")
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algo": algo,
        "env_id": env_id,
        "env_options": dict(env_options or {}),
        "config": dict(config),
        "network_spec": network_spec,
        # Copies: a payload kept in memory must not change as training goes on.
        "weights": {key: value.detach().cpu().clone() for key, value in weights.items()},
        "steps": int(steps),
        "rng": dict(rng or {}),
    }
    if resume is not None:
        payload["resume"] = resume
    return payload


def load_checkpoint(
    path: str | os.PathLike, expect: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its format.

    ``expect`` maps keys to required values, e.g. ``{"algo": "dqn"}``; a mismatch raises
    :class:`CheckpointError` saying what the file holds.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a directory; name a checkpoint file in it, e.g. {path / 'final.pt'}"
        )
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train one first, or check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(error).__name__}: {reason}). "
            "It may be truncated or not a checkpoint at all: delete it and save a new one."
        ) from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} holds a {type(payload).__name__}, not a checkpoint dict")
    if payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not in rlcourse's checkpoint format (format={payload.get('format')!r}, "
            f"expected {FORMAT!r}): it may come from another program or from rlcourse < 0.2"
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}; this rlcourse reads up to "
            f"{FORMAT_VERSION}: upgrade rlcourse (pip install -U rlcourse)"
        )
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} is an incomplete checkpoint: no {', '.join(missing)}")
    if not isinstance(payload["algo"], str):
        raise CheckpointError(f"{path} names no algorithm (algo={payload['algo']!r})")
    _check_fields(path, payload)
    for key, wanted in (expect or {}).items():
        found = payload.get(key, "<missing>")
        if found != wanted:
            raise CheckpointError(
                f"{path} was saved for {key}={found!r}, but {key}={wanted!r} is needed here"
            )
    return payload


FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "env_id": (str,),
    "env_options": (dict,),
    "config": (dict,),
    "network_spec": (dict,),
    "weights": (dict,),
    "steps": (int,),
}
"""What each required field of a checkpoint must be."""


def _check_fields(path: Path, payload: dict[str, Any]) -> None:
    """Each field of the right type, and the weights as their checksum says (version 3)."""
    for key, kinds in FIELD_TYPES.items():
        value = payload[key]
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise CheckpointError(
                f"{path} is damaged: its {key} is a {type(value).__name__}, not a "
                f"{' or '.join(kind.__name__ for kind in kinds)}"
            )
    if payload["steps"] < 0:
        raise CheckpointError(f"{path} is damaged: its steps are {payload['steps']}")
    weights = payload["weights"]
    bad = [name for name, value in weights.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path} is damaged: its weights {bad[:3]} are not tensors")
    saved = payload.get("weights_sha256")
    if saved is None and payload["format_version"] >= 3:
        raise CheckpointError(f"{path} is damaged: it has no checksum of its weights")
    if saved is not None and (not isinstance(saved, str) or weights_digest(weights) != saved):
        raise CheckpointError(
            f"{path} is damaged: its weights do not match their checksum (a corrupt copy?); "
            "use another copy, or a checkpoint saved earlier"
        )


def export_checkpoint(
    source: str | os.PathLike | dict[str, Any], target: str | os.PathLike, half: bool = True
) -> Path:
    """A small copy for playing only: no resume state, weights in fp16 when ``half``."""
    if isinstance(source, dict):
        payload = source  # an agent's own payload: it fits by construction
    else:
        payload = load_checkpoint(source)
        build_policy_network(payload, where=str(source))  # a file may not: check before copying
    small = {key: value for key, value in payload.items() if key != "resume"}
    if half:
        small["weights"] = {
            key: value.half() if value.is_floating_point() else value
            for key, value in payload["weights"].items()
        }
    return save_checkpoint(target, small)


def load_weights(network: torch.nn.Module, payload: dict[str, Any], where: str = "") -> None:
    """Load a checkpoint's weights (fp16 ones as fp32) into ``network``, or say what differs."""
    weights = {
        key: value.float() if value.is_floating_point() else value
        for key, value in payload["weights"].items()
    }
    try:
        network.load_state_dict(weights)
    except RuntimeError as error:
        lines = str(error).strip().splitlines()
        detail = " ".join(line.strip() for line in lines[1:3]) or lines[0]
        raise CheckpointError(
            f"{where or 'the checkpoint'}: its weights do not fit the network "
            f"{payload['network_spec']}: {detail}"
        ) from None


def restore_training_state(
    network: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    network_spec: dict[str, Any],
    payload: dict[str, Any],
) -> dict[str, Any]:
    """What every agent's ``restore`` does first: check that a resume point's network is
    the agent's (``network_spec``), load its weights and optimizer state; returns its
    ``resume`` part (the rest is each agent's own: target net, replay memory, RNGs)."""
    if payload["network_spec"] != network_spec:
        raise CheckpointError(
            f"the checkpoint's network {payload['network_spec']} is not this agent's "
            f"{network_spec}: use the same env and hyperparameters"
        )
    load_weights(network, payload)
    # A copy: torch would share the payload's moment tensors, and with them two agents
    # restored from one in-memory payload would update each other's optimizer state.
    optimizer.load_state_dict(copy.deepcopy(payload["resume"]["optimizer"]))
    return payload["resume"]


def build_policy_network(payload: dict[str, Any], where: str = "") -> torch.nn.Module:
    """The checkpoint's network with its weights (a file that cannot give one is refused)."""
    try:
        network = build_network(payload["network_spec"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{where or 'the checkpoint'}: its network spec cannot be built: {error}"
        ) from None
    load_weights(network, payload, where=where)
    return network


# --- random generators as plain data --------------------------------------------------------


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A Generator's state as plain data (128-bit PCG64 words as strings: weights_only-safe)."""
    return _ints_to_str(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    rng.bit_generator.state = _str_to_ints(state)


def _ints_to_str(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _ints_to_str(item) for key, item in value.items()}
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _str_to_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _str_to_ints(item) for key, item in value.items()}
    return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else value
