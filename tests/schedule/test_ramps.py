"""Sparsity ramps: target sparsity per epoch (compressor/schedule/ramps.py)."""

from __future__ import annotations

import pytest

from compressor.schedule import ramps as ss


def test_agp_is_zhu_gupta_cubic():
    active = list(range(2, 7))  # epochs 2..6
    values = [ss.polynomial(e, active, 0.05, 0.85, 3.0) for e in active]
    for e, v in zip(active, values):
        expected = 0.85 + (0.05 - 0.85) * (1 - (e - 2) / 4) ** 3
        assert v == pytest.approx(expected)
    assert values[0] == pytest.approx(0.05) and values[-1] == pytest.approx(0.85)
    assert all(a < b for a, b in zip(values, values[1:]))
    assert ss.polynomial(3, [3], 0.0, 0.7, 3.0) == 0.7  # a one-epoch window prunes to final


@pytest.mark.parametrize("initial", [0.0, 0.5])
@pytest.mark.parametrize("power", [1.0, 2.0, 3.0])
def test_polynomial_decay_initial_and_power(initial, power):
    active = [0, 2, 4, 6, 8]
    mid = ss.polynomial(4, active, initial, 0.9, power)
    assert mid == pytest.approx(0.9 + (initial - 0.9) * 0.5 ** power)
    assert ss.polynomial(0, active, initial, 0.9, power) == pytest.approx(initial)


def test_iterative_steps():
    active = [0, 2, 4, 6]
    assert [ss.iterative(e, active, 0.2, 0.8) for e in range(8)] == pytest.approx(
        [0.2, 0.2, 0.4, 0.4, 0.6, 0.6, 0.8, 0.8])
    assert ss.iterative(6, active, 0.3, 0.8) == 0.8  # capped at the target
    assert ss.iterative_steps_needed(0.2, 0.8) == 4 and ss.iterative_steps_needed(0.3, 0.8) == 3
