"""The one number validator, field docs, configs from dicts, and config options on a CLI."""

import argparse
import dataclasses
import math

import numpy as np
import pytest

from rlcourse.agents.a2c import A2CConfig
from rlcourse.agents.dqn import DQNConfig
from rlcourse.config import (
    COMMON,
    add_config_options,
    check_number,
    check_positive_int,
    config_from_dict,
    field_docs,
    options_to_values,
)

# --- check_number / check_positive_int -----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "value", "expected"),
    [
        ({"integer": True, "low": 1}, 32, 32),
        ({"integer": True, "low": 1}, np.int64(5), 5),
        ({"low": 0, "high": 1}, 0, 0),  # closed bounds include their ends
        ({"low": 0, "high": 1}, 1.0, 1.0),
        ({"low": 0, "low_open": True}, 1e-9, 1e-9),
        ({}, -1e300, -1e300),  # no bounds: any finite number
        ({"high": 10, "high_open": True}, 9.5, 9.5),
    ],
)
def test_check_number_accepts_and_returns(kwargs, value, expected):
    result = check_number("x", value, **kwargs)
    assert result == expected
    if kwargs.get("integer"):
        assert type(result) is int


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        (1.5, {"integer": True}, TypeError, r"^batch_size must be an int, got 1.5 \(float\)$"),
        (True, {"integer": True}, TypeError, r"^batch_size must be an int, got True \(bool\)$"),
        (True, {}, TypeError, r"^batch_size must be a number, got True \(bool\)$"),
        ("3", {}, TypeError, r"^batch_size must be a number, got '3' \(str\)$"),
        (None, {"integer": True}, TypeError, r"^batch_size must be an int, got None"),
        (math.nan, {}, ValueError, r"^batch_size must be a number, got nan$"),
        (1.5, {"low": 0, "high": 1}, ValueError, r"^batch_size must be in \[0, 1\], got 1.5$"),
        (
            0,
            {"low": 0, "high": 1, "low_open": True},
            ValueError,
            r"^batch_size must be in \(0, 1\], got 0$",
        ),
        (
            1,
            {"low": 0, "high": 1, "high_open": True},
            ValueError,
            r"^batch_size must be in \[0, 1\), got 1$",
        ),
        (0, {"low": 0, "low_open": True}, ValueError, r"^batch_size must be > 0, got 0$"),
        (-1, {"low": 0}, ValueError, r"^batch_size must be >= 0, got -1$"),
        (11, {"high": 10}, ValueError, r"^batch_size must be <= 10, got 11$"),
        (10, {"high": 10, "high_open": True}, ValueError, r"^batch_size must be < 10, got 10$"),
        (
            0.5,
            {"low": 1e-3, "high": 0.25},
            ValueError,
            r"^batch_size must be in \[0.001, 0.25\], got 0.5$",
        ),
    ],
)
def test_check_number_refuses_with_the_name_the_bound_and_the_value(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_number("batch_size", value, **kwargs)


def test_check_positive_int_cases_and_messages():
    assert check_positive_int("n_games", 1) == 1
    assert check_positive_int("n_games", np.int32(16)) == 16
    with pytest.raises(ValueError, match=r"^n_games must be >= 1, got 0$"):
        check_positive_int("n_games", 0)
    with pytest.raises(ValueError, match=r"^n_games must be >= 1, got -3$"):
        check_positive_int("n_games", -3)
    with pytest.raises(TypeError, match=r"^n_games must be an int, got 1.5 \(float\)$"):
        check_positive_int("n_games", 1.5)
    with pytest.raises(TypeError, match=r"^n_games must be an int, got 2.0 \(float\)$"):
        check_positive_int("n_games", 2.0)  # a float count is a bug even when whole
    with pytest.raises(TypeError, match=r"^n_games must be an int, got False \(bool\)$"):
        check_positive_int("n_games", False)


# --- field docs and configs from dicts ------------------------------------------------------


def test_field_docs_are_the_docstrings_under_the_fields():
    docs = field_docs(DQNConfig)
    assert docs["gamma"] == "Discount factor of future rewards."
    assert set(docs) == {f.name for f in dataclasses.fields(DQNConfig)}
    a2c_docs = field_docs(A2CConfig)
    assert a2c_docs["n_games"].startswith("Games played in parallel")
    assert "\n" not in a2c_docs["n_games"] and "  " not in a2c_docs["n_games"]


def test_config_from_dict_rebuilds_and_refuses_unknown_fields():
    config = A2CConfig(n_games=3, crop=[1, 2, 3, 4])
    back = config_from_dict(A2CConfig, dataclasses.asdict(config))
    assert back == config and back.crop == (1, 2, 3, 4)
    with pytest.raises(ValueError, match=r"unknown A2CConfig fields \['n_game'\]; known: \["):
        config_from_dict(A2CConfig, {"n_game": 3})


# --- command-line options -------------------------------------------------------------------


def _parser(cls):
    parser = argparse.ArgumentParser(prog="test")
    add_config_options(parser, cls)
    return parser


@pytest.mark.parametrize("cls", [DQNConfig, A2CConfig])
def test_options_round_trip_to_the_config_values(cls):
    config = cls()
    changed = {}
    argv = []
    for item in dataclasses.fields(cls):
        if item.name in COMMON or item.metadata.get("cli") is False:
            continue
        value = getattr(config, item.name)
        option = "--" + item.name.replace("_", "-")
        if isinstance(value, bool):
            changed[item.name] = not value
            argv += [option, str(not value).lower()]
        elif isinstance(value, int):
            changed[item.name] = value + 1
            argv += [option, str(value + 1)]
        elif isinstance(value, float):
            changed[item.name] = value / 2
            argv += [option, repr(value / 2)]
        elif isinstance(value, tuple):
            changed[item.name] = tuple(v + 1 for v in value)
            argv += [option, *map(str, changed[item.name])]
    values = options_to_values(_parser(cls).parse_args(argv), cls)
    assert values == changed
    rebuilt = dataclasses.replace(config, **values)
    for name, value in changed.items():
        assert getattr(rebuilt, name) == value


def test_unset_options_give_no_values_and_the_config_keeps_its_defaults():
    assert options_to_values(_parser(DQNConfig).parse_args([]), DQNConfig) == {}


def test_option_names_types_and_help():
    """Also an option given as None: "--max-grad-norm none" turns clipping off."""
    parser = _parser(DQNConfig)
    args = parser.parse_args(
        [
            "--batch-size",
            "32",
            "--max-grad-norm",
            "none",
            "--double",
            "yes",
            "--hidden-sizes",
            "16",
            "8",
            "--loss",
            "mse",
        ]
    )
    assert options_to_values(args, DQNConfig) == {
        "batch_size": 32,
        "max_grad_norm": None,
        "double": True,
        "hidden_sizes": (16, 8),
        "loss": "mse",
    }
    text = " ".join(parser.format_help().split())  # unwrapped
    assert "--batch-size N Transitions per gradient step. (default: 64)" in text
    assert "--hidden-sizes N [N ...]" in text and "(default: 128 128)" in text
    assert "--max-grad-norm X|none" in text
    assert "--seed" not in text  # COMMON fields get an option of their own
    assert "--extra" not in text  # metadata cli=False
    assert "DQNConfig hyperparameters" in text


def test_bad_option_values_are_argparse_errors(capsys):
    parser = _parser(DQNConfig)
    with pytest.raises(SystemExit):
        parser.parse_args(["--double", "maybe"])
    assert "expected true/false, got 'maybe'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--batch-size", "1.5"])


def test_a2c_options_have_the_renamed_learning_rate():
    text = _parser(A2CConfig).format_help()
    assert "--lr X" in text and "--learning-rate" not in text
    assert "--n-games N" in text and "--crop N [N ...]" in text
