"""The one checkpoint format: atomic saves, safe loads, version checks, exports, load_policy."""

import pickle

import numpy as np
import pytest
import torch

from rlcourse import pretrained
from rlcourse.checkpoints import (
    FORMAT,
    FORMAT_VERSION,
    CheckpointError,
    export_checkpoint,
    load_checkpoint,
    load_weights,
    make_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from rlcourse.networks import MLPQNetwork, build_network, network_spec
from rlcourse.policies import QPolicy, RecurrentPolicy
from rlcourse.registry import load_policy


def _payload(resume=None, hidden=(8,)):
    spec = network_spec("MLPQNetwork", obs_dim=4, n_actions=2, hidden_sizes=hidden)
    torch.manual_seed(0)
    network = build_network(spec)
    return make_checkpoint(
        algo="dqn",
        env_id="CartPole-v1",
        env_options={"max_episode_steps": 100},
        config={"gamma": 0.99, "hidden_sizes": list(hidden)},
        network_spec=spec,
        weights=network.state_dict(),
        steps=123,
        rng={"agent": rng_state(np.random.default_rng(1))},
        resume=resume,
    )


def test_make_checkpoint_has_the_documented_keys():
    payload = _payload()
    assert payload["format"] == FORMAT == "rlcourse-checkpoint"
    assert payload["format_version"] == FORMAT_VERSION == 3
    assert {
        "algo",
        "env_id",
        "env_options",
        "config",
        "network_spec",
        "weights",
        "steps",
        "rng",
    } <= set(payload)
    assert "resume" not in payload and "resume" in _payload(resume={"x": 1})
    with pytest.raises(ValueError, match="algo must be an algorithm's name"):
        make_checkpoint(
            algo="", env_id="X", env_options=None, config={}, network_spec={}, weights={}, steps=0
        )


def test_save_and_load_round_trip_with_numpy_arrays(tmp_path):
    payload = _payload(resume={"memory": np.arange(6, dtype=np.uint8).reshape(2, 3)})
    path = save_checkpoint(tmp_path / "sub" / "c.pt", payload)
    assert path == tmp_path / "sub" / "c.pt"
    loaded = load_checkpoint(path, expect={"algo": "dqn", "env_id": "CartPole-v1"})
    assert loaded["steps"] == 123 and loaded["env_options"] == {"max_episode_steps": 100}
    np.testing.assert_array_equal(loaded["resume"]["memory"], np.arange(6).reshape(2, 3))
    for key, value in payload["weights"].items():
        assert torch.equal(loaded["weights"][key], value)
    rng = np.random.default_rng(5)
    set_rng_state(rng, loaded["rng"]["agent"])  # 128-bit states survive as strings
    assert rng.random() == np.random.default_rng(1).random()


def test_save_is_atomic_a_failing_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.pt", _payload())
    before = path.read_bytes()

    def failing_save(obj, file, *args, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"half a checkpo")  # a partial write, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _payload(hidden=(16,)))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left
    monkeypatch.undo()
    assert load_checkpoint(path)["steps"] == 123


class Exploit:
    """Unpickling this would run code: weights_only=True must refuse it."""

    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_load_is_weights_only_and_refuses_pickled_code(tmp_path, capsys):
    payload = _payload()
    payload["config"]["evil"] = Exploit()
    path = tmp_path / "evil.pt"
    torch.save(payload, path)  # a plain torch.save, not ours
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    assert "pwned" not in capsys.readouterr().out
    (tmp_path / "pickle.pt").write_bytes(pickle.dumps({"format": FORMAT}))
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "pickle.pt")


def test_load_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .*train one first"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="is a directory; name a checkpoint file in it"):
        load_checkpoint(tmp_path)
    good = save_checkpoint(tmp_path / "good.pt", _payload())
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:200])  # truncated
    with pytest.raises(CheckpointError, match="not a readable checkpoint.*save a new one"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds a list, not a checkpoint dict"):
        load_checkpoint(tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"saved for algo='dqn', but algo='a2c' is needed"):
        load_checkpoint(good, expect={"algo": "a2c"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": None}, r"not in rlcourse's checkpoint format \(format=None.*rlcourse < 0.2"),
        ({"format": "sb3"}, r"format='sb3', expected 'rlcourse-checkpoint'"),
        (
            {"format_version": FORMAT_VERSION + 1},
            rf"format version {FORMAT_VERSION + 1}; this rlcourse reads up to {FORMAT_VERSION}: "
            "upgrade rlcourse",
        ),
        ({"format_version": "2"}, "format version '2'"),
        ({"steps": None}, "incomplete checkpoint: no steps"),
        ({"weights": None, "config": None}, "incomplete checkpoint: no config, weights"),
        ({"algo": 3}, r"names no algorithm \(algo=3\)"),
    ],
)
def test_format_and_version_errors(tmp_path, change, message):
    payload = _payload()
    for key, value in change.items():
        if value is None and key not in ("format",):
            del payload[key]
        else:
            payload[key] = value
    torch.save(payload, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path / "c.pt")


def test_an_older_format_version_still_loads(tmp_path):
    payload = {**_payload(), "format_version": 1}
    torch.save(payload, tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt")["format_version"] == 1


def test_export_refuses_weights_that_do_not_fit(tmp_path):
    payload = _payload()
    payload["weights"]["counter"] = torch.tensor([7], dtype=torch.int64)
    source = save_checkpoint(tmp_path / "odd.pt", payload)
    with pytest.raises(CheckpointError, match="do not fit the network"):
        export_checkpoint(source, tmp_path / "small.pt")
    assert not (tmp_path / "small.pt").exists()


def test_export_drops_resume_and_halves_floats(tmp_path):
    payload = _payload(resume={"optimizer": {"big": torch.zeros(10_000)}})
    full = save_checkpoint(tmp_path / "full.pt", payload)
    small = export_checkpoint(full, tmp_path / "small.pt")
    assert small.stat().st_size < full.stat().st_size
    exported = load_checkpoint(small)
    assert "resume" not in exported
    assert all(v.dtype == torch.float16 for v in exported["weights"].values())
    mine = ("weights", "resume", "weights_sha256")  # the checksum is of the fp16 weights
    assert {k: v for k, v in exported.items() if k not in mine} == {
        k: v for k, v in payload.items() if k not in mine
    }
    # fp32 export from a payload (no file): resume dropped, floats kept
    fp32 = load_checkpoint(export_checkpoint(payload, tmp_path / "fp32.pt", half=False))
    assert "resume" not in fp32 and fp32["weights"]["layers.0.weight"].dtype == torch.float32
    assert "resume" in payload  # the caller's payload is left as it was


def test_load_weights_upcasts_fp16_and_names_a_misfit(tmp_path):
    payload = load_checkpoint(export_checkpoint(_payload(), tmp_path / "half.pt"))
    network = MLPQNetwork(4, 2, hidden_sizes=(8,))
    load_weights(network, payload)
    assert network.layers[0].weight.dtype == torch.float32
    expected = _payload()["weights"]["layers.0.weight"].half().float()
    assert torch.equal(network.layers[0].weight.data, expected)
    with pytest.raises(CheckpointError, match="x.pt: its weights do not fit the network"):
        load_weights(MLPQNetwork(4, 2, hidden_sizes=(16,)), payload, where="x.pt")


def test_load_agent_makes_a_ready_greedy_q_policy(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", _payload())
    policy = load_policy(path)
    assert isinstance(policy, QPolicy) and policy.epsilon == 0.0
    assert not policy.network.training
    info = policy.checkpoint
    assert (info.algo, info.env_id, info.steps, info.path) == ("dqn", "CartPole-v1", 123, str(path))
    assert info.env_options == {"max_episode_steps": 100} and info.config["gamma"] == 0.99
    for name, value in _payload()["weights"].items():
        assert torch.equal(policy.network.state_dict()[name], value)
    obs = np.array([0.1, -0.2, 0.3, 0.0], np.float32)
    with torch.no_grad():
        greedy = int(policy.network(torch.from_numpy(obs)[None]).argmax())
    assert policy(obs) == greedy


def test_load_agent_refuses_an_unbuildable_network(tmp_path):
    payload = _payload()
    payload["network_spec"] = {"class": "MLPQNetwork", "kwargs": {"obs_dim": 4, "wings": 2}}
    path = save_checkpoint(tmp_path / "c.pt", payload)
    with pytest.raises(CheckpointError, match="its network spec cannot be built"):
        load_policy(path)


@pytest.mark.parametrize(
    ("name", "algo", "kind"),
    [("dqn_cartpole.pt", "dqn", QPolicy), ("a2c_kungfu.pt", "a2c", RecurrentPolicy)],
)
def test_shipped_checkpoints_are_small_files_of_a_format_this_version_reads(name, algo, kind):
    path = pretrained.path(name)
    payload = load_checkpoint(path)
    # Format 2 (no checksum) or later; every file saved from now on carries its checksum.
    assert 2 <= payload["format_version"] <= FORMAT_VERSION and payload["algo"] == algo
    assert "resume" not in payload and path.stat().st_size < 8 * 2**20
    assert isinstance(load_policy(path), kind)
