"""Fixtures of the delivery tests: the two-voice repository of tests/support/cast.py."""

from tests.support.cast import cast_repo, cast_template

__all__ = ["cast_repo", "cast_template"]
