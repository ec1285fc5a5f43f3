"""experiments/mario_action_gap.py: rollouts from a saved emulator state are the game's (the same
actions give the same points), and the gap statistics find a real gap and none in noise."""

import numpy as np
from conftest import load_script

gap = load_script("experiments/mario_action_gap")


def test_a_restored_state_replays_the_same_game():
    emulator = gap.Emulator()
    states = gap.collect_states(emulator, 2, seed=0, rng=np.random.default_rng(0))
    assert len(states) == 2
    runs = []
    for _ in range(2):
        emulator.ale.restoreState(states[1])
        frames = emulator.ale.getFrameNumber()
        points = emulator.discounted_return(3, 8, 60, np.random.default_rng(5))
        runs.append((points, emulator.ale.getFrameNumber() - frames))
    assert runs[0] == runs[1]
    assert 0 < runs[0][1] <= 60 * gap.FRAME_SKIP


def _row(text):
    return [cell.strip() for cell in text.strip("|").split("|")]


def test_the_summary_finds_a_real_gap_and_not_one_in_noise():
    rng = np.random.default_rng(0)
    returns = (rng.random((10, 6, 40)) < 0.2).astype(float)  # the same odds for every action
    returns[:, 4] += 1.0  # RIGHTFIRE kicks one more pest, always
    summary, actions = gap.summarize(8, returns)
    cells = _row(summary)
    assert cells[0] == "8" and cells[4] == "10 of 10"
    assert 0.9 < float(cells[3]) < 1.1  # the gap, measured on the half it was not picked on
    # one action of six is 1 higher: their values' standard deviation is sqrt(1/6) = 0.41
    assert 0.36 < float(cells[5]) < float(cells[6]) < 0.5 and 0.35 < float(cells[7]) < 0.45
    assert _row(actions)[5].startswith("+0.8")  # RIGHTFIRE, against the mean of the six
    noise = (rng.random((200, 6, 40)) < 0.2).astype(float)
    cells = _row(gap.summarize(1, noise)[0])
    assert abs(float(cells[3])) < 0.03  # no gap where there is none
    assert int(cells[4].split()[0]) < 20  # at most a few states by chance
    assert float(cells[6]) < 0.05 and int(cells[8].replace(",", "")) > 40
