"""Shared fixtures: one exhaustive sweep of every era over each bounded space."""

import os

import pytest

from wpdiff.diff import exhaustive
from wpdiff.spec import ERAS

JOBS = os.cpu_count() or 1


@pytest.fixture(scope="session")
def full_sweep() -> exhaustive.Sweep:
    """Every era's model over the full spec space (two GUP references per page)."""
    return exhaustive.sweep(list(ERAS), "full", jobs=JOBS)


@pytest.fixture(scope="session")
def visible_sweep() -> exhaustive.Sweep:
    """Every era's model over the kernel-visible space."""
    return exhaustive.sweep(list(ERAS), "visible", jobs=JOBS)
