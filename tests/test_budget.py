import pytest

from rlcourse.budget import SMOKE_ENV_VAR, budget, describe_mode, is_smoke


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("off", False)],
)
def test_smoke_mode_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv(SMOKE_ENV_VAR, value)
    assert is_smoke() is expected
    assert budget(full=1000, smoke=10) == (10 if expected else 1000)
    assert ("smoke" if expected else "full") in describe_mode()


def test_unset_means_full_budget(monkeypatch):
    monkeypatch.delenv(SMOKE_ENV_VAR, raising=False)
    assert budget(full=1000, smoke=10) == 1000


def test_bad_environment_value_says_what_is_accepted(monkeypatch):
    monkeypatch.setenv(SMOKE_ENV_VAR, "sometimes")
    with pytest.raises(ValueError, match="'sometimes'.*1/true/yes/on"):
        budget(full=10, smoke=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"full": 0, "smoke": 0}, ValueError, "budget full= must be >= 1, got 0"),
        ({"full": 10, "smoke": -1}, ValueError, "budget smoke= must be >= 1, got -1"),
        ({"full": 10, "smoke": 20}, ValueError, "smoke=20 is larger than full=10"),
        ({"full": 10.5, "smoke": 1}, TypeError, r"full= must be an int, got 10.5 \(float\)"),
        ({"full": True, "smoke": 1}, TypeError, "full= must be an int, got True"),
        ({"full": "100", "smoke": 1}, TypeError, "got '100'"),
    ],
)
def test_bad_budgets_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        budget(**kwargs, smoke_mode=True)


def test_making_the_committed_outputs_uses_the_outputs_budget(monkeypatch):
    monkeypatch.setenv("RLCOURSE_OUTPUTS", "1")
    assert budget(full=20, smoke=2, outputs=20) == 20  # a quoted measurement: its real size
    assert budget(full=500_000, smoke=2_000) == 2_000  # a training: the smoke size
    assert "as committed" in describe_mode()
    monkeypatch.setenv("RLCOURSE_OUTPUTS", "maybe")
    with pytest.raises(ValueError, match="RLCOURSE_OUTPUTS='maybe' is not understood"):
        budget(full=2, smoke=1)


def test_a_run_below_its_full_budget_is_labelled_in_its_output_and_titles(capsys, monkeypatch):
    from rlcourse.budget import CI_SIZE, announce_run

    monkeypatch.setenv(SMOKE_ENV_VAR, "1")
    run = announce_run(budget(full=40_000, smoke=1_500), full=40_000, full_run="in section 8")
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "CI-size run, 1,500 steps — not a result; the full run is in section 8"
    assert first.startswith(CI_SIZE) and run.ci_size
    assert run.title("your DQN").splitlines() == ["your DQN", first]
    monkeypatch.setenv(SMOKE_ENV_VAR, "0")
    full = announce_run(budget(full=40_000, smoke=1_500), full=40_000)
    assert capsys.readouterr().out == "" and not full.ci_size and full.title("DQN") == "DQN"
    with pytest.raises(ValueError, match="steps"):
        announce_run(0, full=10)
