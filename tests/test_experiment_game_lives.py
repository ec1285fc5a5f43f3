"""experiments/game_lives.py: the games it splits into lives are `rlcourse evaluate`'s (same
scores), and the lives add up to them."""

from pathlib import Path

from conftest import load_script

from rlcourse.evaluation import evaluate_checkpoint

lives = load_script("experiments/game_lives")
KUNGFU = Path(__file__).resolve().parents[1] / "rlcourse" / "pretrained" / "a2c_kungfu.pt"


def test_lives_add_up_to_the_scores_of_rlcourse_evaluate():
    result = lives.play_games(KUNGFU, games=2, seed=60_000, max_steps=400)
    scores = evaluate_checkpoint(KUNGFU, episodes=2, seed=60_000, max_steps=400).scores
    assert result.scores.tolist() == scores.tolist()
    assert scores.sum() > 0  # the trained agent scores within 400 steps
    for score, game in zip(result.scores, result.lives, strict=True):
        assert sum(life.points for life in game) == score
        assert sum(life.steps for life in game) == 400  # no game of Kung-Fu ends this soon
    assert sum(value * count for value, count in result.rewards.items()) == scores.sum()
    text = lives.report(result)
    assert f"score: {scores.mean():.1f} +- {scores.std():.1f} over 2 games" in text
    assert text.count("\n| ") == 2  # one row per game
