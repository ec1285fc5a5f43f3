import pytest
import torch

from rlcourse.networks import RecurrentActorCritic

# --- RecurrentActorCritic (lesson 09) ----------------------------------------------------


def test_recurrent_actor_critic_shapes_and_layers():
    net = RecurrentActorCritic(obs_shape=(1, 42, 42), n_actions=14)
    assert isinstance(net.lstm, torch.nn.LSTMCell) and net.lstm.hidden_size == 128
    assert [net.conv0.stride, net.conv1.stride, net.conv2.stride] == [(2, 2)] * 3
    assert net.dense.in_features == 32 * 4 * 4  # 42 -> 20 -> 9 -> 4
    memory = net.initial_memory(5)
    assert all(m.shape == (5, 128) and not m.any() for m in memory)
    (h, c), logits, value = net(torch.zeros(5, 1, 42, 42, dtype=torch.uint8), memory)
    assert h.shape == c.shape == (5, 128) and logits.shape == (5, 14) and value.shape == (5,)


def test_uint8_frames_are_scaled_like_floats_in_unit_range():
    torch.manual_seed(0)
    net = RecurrentActorCritic(obs_shape=(2, 16, 16), n_actions=3, hidden_size=8)
    frames = torch.randint(0, 256, (4, 2, 16, 16), dtype=torch.uint8)
    memory = net.initial_memory(4)
    _, logits_u8, value_u8 = net(frames, memory)
    _, logits_f, value_f = net(frames.float() / 255, memory)
    assert torch.allclose(logits_u8, logits_f) and torch.allclose(value_u8, value_f)


def test_memory_carries_information_between_steps():
    torch.manual_seed(0)
    net = RecurrentActorCritic(obs_shape=(1, 16, 16), n_actions=3, hidden_size=8)
    blank = torch.zeros(1, 1, 16, 16)
    bright = torch.ones(1, 1, 16, 16)
    after_blank, _, _ = net(blank, net.initial_memory(1))
    after_bright, _, _ = net(bright, net.initial_memory(1))
    # same observation now, different past: different outputs
    _, logits_a, _ = net(blank, after_blank)
    _, logits_b, _ = net(blank, after_bright)
    assert not torch.allclose(logits_a, logits_b)


def test_gradients_flow_through_time():
    torch.manual_seed(0)
    net = RecurrentActorCritic(obs_shape=(1, 16, 16), n_actions=3, hidden_size=8)
    first = torch.rand(2, 1, 16, 16, requires_grad=True)
    memory, _, _ = net(first, net.initial_memory(2))
    _, _, value = net(torch.rand(2, 1, 16, 16), memory)
    value.sum().backward()
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_bad_shapes_are_clear_errors():
    net = RecurrentActorCritic(obs_shape=(1, 42, 42), n_actions=14)
    with pytest.raises(ValueError, match=r"RecurrentActorCritic was built for inputs of shape"):
        net(torch.zeros(2, 4, 42, 42), net.initial_memory(2))
    with pytest.raises(ValueError, match="obs_shape must be"):
        RecurrentActorCritic(obs_shape=(42, 42), n_actions=14)
    with pytest.raises(ValueError, match="too small"):
        RecurrentActorCritic(obs_shape=(1, 8, 8), n_actions=14)
    with pytest.raises(ValueError, match="n_actions must be >= 1, got 0"):
        RecurrentActorCritic(obs_shape=(1, 42, 42), n_actions=0)


# --- Q-networks (lessons 04-06) -------------------------------------------------------------


def test_nature_cnn_layers_and_uint8_scaling():
    from rlcourse.networks import NatureCNN

    net = NatureCNN((4, 84, 84), n_actions=9)
    assert net.conv_output_shape == (64, 7, 7)
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (32, (8, 8), (4, 4)),
        (64, (4, 4), (2, 2)),
        (64, (3, 3), (1, 1)),
    ]
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    expected = net.head(net.features(frames.float() / 255))
    assert torch.allclose(net(frames), expected)


def test_nature_cnn_says_what_it_was_built_for():
    from rlcourse.networks import NatureCNN

    net = NatureCNN((4, 84, 84), n_actions=9)
    with pytest.raises(ValueError, match=r"built for inputs of shape \(batch, 4, 84, 84\)"):
        net(torch.zeros(1, 84, 84, 4, dtype=torch.uint8))
    with pytest.raises(TypeError, match="takes uint8 frames"):
        net(torch.zeros(1, 4, 84, 84))
    with pytest.raises(ValueError, match="too small"):
        NatureCNN((4, 20, 20), n_actions=2)


def test_dueling_head_splits_value_and_mean_zero_advantage():
    from rlcourse.networks import DuelingHead, MLPQNetwork

    head = DuelingHead(3, 4)
    features = torch.randn(5, 3)
    q = head(features)
    value = head.value(features)
    assert torch.allclose(q.mean(dim=1, keepdim=True), value, atol=1e-6)
    net = MLPQNetwork(4, 2, (8,), dueling=True)
    assert net(torch.zeros(3, 4)).shape == (3, 2)
    plain = MLPQNetwork(4, 2, (8,))
    assert list(plain.state_dict()) == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]


# --- network specs (what a checkpoint says to build) ----------------------------------------


def test_network_spec_is_plain_data_and_builds_the_network():
    from rlcourse.networks import MLPQNetwork, NatureCNN, build_network, network_spec

    spec = network_spec("MLPQNetwork", obs_dim=4, n_actions=2, hidden_sizes=(8, 8))
    assert spec == {
        "class": "MLPQNetwork",
        "kwargs": {"obs_dim": 4, "n_actions": 2, "hidden_sizes": [8, 8]},
    }
    net = build_network(spec)
    assert isinstance(net, MLPQNetwork) and net(torch.zeros(3, 4)).shape == (3, 2)
    cnn = build_network(network_spec("NatureCNN", obs_shape=(4, 84, 84), n_actions=9))
    assert isinstance(cnn, NatureCNN)
    recurrent = build_network(
        network_spec("RecurrentActorCritic", obs_shape=(1, 42, 42), n_actions=14, hidden_size=16)
    )
    assert isinstance(recurrent, RecurrentActorCritic)
    assert recurrent.initial_memory(2)[0].shape == (2, 16)


def test_a_seeded_network_is_reproducible_and_leaves_torch_global_generator_alone():
    from rlcourse.networks import build_network, network_spec

    spec = network_spec("MLPQNetwork", obs_dim=4, n_actions=2, hidden_sizes=(8, 8))
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = build_network(spec, seed=7), build_network(spec, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(7)
    c = build_network(spec)  # what torch.manual_seed(7) gives
    other = build_network(spec, seed=8)
    for name, weight in a.state_dict().items():
        assert torch.equal(weight, b.state_dict()[name])
        assert torch.equal(weight, c.state_dict()[name])
    assert not all(torch.equal(w, other.state_dict()[n]) for n, w in a.state_dict().items())


def test_network_spec_errors():
    from rlcourse.networks import build_network, network_spec

    known = r"\['MLPPolicy', 'MLPQNetwork'"
    with pytest.raises(ValueError, match=r"unknown network 'ResNet'; known: " + known):
        network_spec("ResNet")
    with pytest.raises(ValueError, match="not a network spec"):
        build_network({"class": "MLPQNetwork"})
    with pytest.raises(ValueError, match="not a network spec"):
        build_network("MLPQNetwork")
