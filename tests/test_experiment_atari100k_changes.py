"""experiments/atari100k_changes.py (issue #33's per-change table): each variant changes from
the preset run exactly the settings it names, whatever the preset's defaults, and the table
reads back what collect wrote."""

import numpy as np
from conftest import config_differences, dqn_config_of, load_script

changes = load_script("experiments/atari100k_changes")


def test_each_variant_changes_what_it_names_from_the_preset_run():
    runs = changes.Path("runs")
    preset = dqn_config_of(changes.command("preset", 0, runs))
    assert (preset.train_frequency, preset.target_update_interval) == (2, 2)
    assert (preset.max_grad_norm, preset.adam_eps) == (10.0, 1e-8)
    assert preset.n_step == 10 and preset.random_shift == 4 and preset.dueling
    expected = {
        "replay_ratio_1": {"train_frequency"},
        "adam_eps": {"adam_eps"},
        "drq_eps": {"train_frequency", "target_update_interval", "max_grad_norm", "adam_eps"},
    }
    for variant, fields in expected.items():
        config = dqn_config_of(changes.command(variant, 0, runs))
        assert config_differences(config, preset) == fields, variant
    drq = dqn_config_of(changes.command("drq_eps", 0, runs))
    assert (drq.train_frequency, drq.target_update_interval, drq.max_grad_norm) == (1, 1, None)
    assert drq.adam_eps == 1.5e-4
    for variant in changes.VARIANTS:  # the seed is the only thing that differs between runs
        a, b = (dqn_config_of(changes.command(variant, s, runs)) for s in (0, 2))
        assert config_differences(a, b) == {"seed"}
        assert changes.command(variant, 2, runs).endswith(f"--out runs/{variant}_s2")


def test_the_table_reads_back_and_separates_only_what_differs(tmp_path):
    rng = np.random.default_rng(0)
    table = tmp_path / "table.csv"
    rows = []
    for variant, level in (("preset", 1_000.0), ("drq_eps", 9_000.0), ("adam_eps", 1_000.0)):
        for seed in changes.SEEDS:
            for eps in changes.EPSILONS:
                scores = " ".join(f"{s:g}" for s in level + rng.normal(0, 100, 20).round())
                rows.append(f"{variant},{seed},{eps},50000,50.0,0,{scores},cmd")
    table.write_text(",".join(changes.FIELDS) + "\n" + "\n".join(rows) + "\n")
    found = changes.read_table(table)
    assert set(found) == {"preset", "drq_eps", "adam_eps"}
    assert all(len(found["drq_eps"][eps]) == 3 for eps in changes.EPSILONS)
    table = changes.estimates(found)
    for eps in changes.EPSILONS:
        drq, adam = table["drq_eps", eps][1], table["adam_eps", eps][1]
        assert drq.low > 7_000 and drq.high < 9_000  # ~8,000 above the preset: separated
        assert adam.low < 0 < adam.high  # the same level: the interval holds 0
        assert table["preset", eps][1] is None
    assert "| drq_eps | all of DrQ(eps)'s" in changes.summary(found)
    # two runs: an IQM with its interval, but no comparison (the course asks for 3 seeds)
    two = {name: {eps: runs[:2] for eps, runs in by_eps.items()} for name, by_eps in found.items()}
    assert all(difference is None for _, difference in changes.estimates(two).values())
    assert "2 runs: fewer than 3, no comparison" in changes.summary(two)
