"""Configs refuse out-of-range values at construction, with the value in the message."""

from __future__ import annotations

import math
import re

import click
import pytest

from distill.cli import KnobOption, main
from distill.config import Bounds, DataConfig, PrecomputeConfig, TrainConfig, knob_of
from distill.errors import ConfigError


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"alpha": 1.01}, "alpha must be in [0, 1]"),
        ({"temperature": 0.0}, "temperature must be in (0, 100]"),
        ({"temperature": float("nan")}, "temperature must be in (0, 100]"),
        ({"epochs": 0}, "epochs must be in [1, 100000]"),
        ({"grad_accum": 0}, "grad_accum must be in [1, 1024]"),
    ],
)
def test_train_config_refuses_out_of_range_values(fields: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        TrainConfig(**fields)  # type: ignore[arg-type]


def test_boundary_values_are_accepted() -> None:
    assert TrainConfig(alpha=0.0).alpha == 0.0
    assert TrainConfig(alpha=1.0).alpha == 1.0
    assert DataConfig(seq_len=2).seq_len == 2
    assert PrecomputeConfig(top_k=0).top_k == 0


def test_data_and_precompute_configs_refuse_bad_values() -> None:
    with pytest.raises(ConfigError, match="seq_len"):
        DataConfig(seq_len=1)
    with pytest.raises(ConfigError, match="top_k"):
        PrecomputeConfig(top_k=-1)


def _knob_options() -> list[tuple[str, KnobOption]]:
    return [
        (name, param)
        for name, command in sorted(main.commands.items())
        for param in command.params
        if isinstance(param, KnobOption)
    ]


def _outside(bounds: Bounds, integer: bool) -> list[float]:
    """The values nearest the interval that it must refuse."""
    below = bounds.low - 1 if integer else math.nextafter(bounds.low, -math.inf)
    above = bounds.high + 1 if integer else math.nextafter(bounds.high, math.inf)
    return [
        bounds.low if bounds.low_open else below,
        bounds.high if bounds.high_open else above,
    ] + ([] if integer else [math.nan])


@pytest.mark.parametrize(
    ("command", "option"), _knob_options(), ids=lambda v: v if isinstance(v, str) else v.name
)
def test_each_option_states_what_its_config_enforces(command: str, option: KnobOption) -> None:
    """The help, the default, the choices and the validation all come from one knob: the help
    names the interval the config enforces, and the option's default is a value it accepts."""
    spec, _ = knob_of(option.config, option.field)
    spec.check(option.field, option.default)
    if spec.choices:
        assert isinstance(option.type, click.Choice)
        assert tuple(option.type.choices) == spec.choices
    if spec.bounds is None:
        return
    assert str(spec.bounds) in (option.help or ""), (command, option.name)
    integer = isinstance(option.default, int)
    for value in _outside(spec.bounds, integer):
        shown = int(value) if integer else value
        with pytest.raises(ConfigError, match=re.escape(f"must be in {spec.bounds}, got")):
            option.config(**{option.field: shown})
    for value, excluded in (
        (spec.bounds.low, spec.bounds.low_open),
        (spec.bounds.high, spec.bounds.high_open),
    ):
        if not excluded:  # a closed end is accepted
            option.config(**{option.field: int(value) if integer else value})


def test_every_ranged_option_of_the_cli_is_built_from_a_knob() -> None:
    """No range is written a second time in the CLI: every option whose help states an
    interval is a knob option."""
    for name, command in main.commands.items():
        for param in command.params:
            text = getattr(param, "help", "") or ""
            if re.search(r"in [\[(]-?\d", text):
                assert isinstance(param, KnobOption), (name, param.name)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(65536, "65536"), (1_000_000, "1000000"), (1 << 20, "2^20"), (2**63 - 1, "2^63 - 1"),
     (0.01, "0.01"), (1e6, "1e+06")],
)  # fmt: skip
def test_bounds_are_written_as_people_read_them(value: float, shown: str) -> None:
    assert str(Bounds(0, value)) == f"[0, {shown}]"
    assert str(Bounds(0, value, low_open=True, high_open=True)) == f"(0, {shown})"
