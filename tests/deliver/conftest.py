"""Fixtures of the delivery tests: the two-voice repository of tests/support/cast.py, and
the twice-rendered one of tests/support/drift.py."""

from tests.support.cast import cast_repo, cast_template
from tests.support.drift import drift_repo, drift_template

__all__ = ["cast_repo", "cast_template", "drift_repo", "drift_template"]
