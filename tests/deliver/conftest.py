"""Fixtures of the delivery tests: the two-voice repository of tests/cast.py."""

from tests.cast import cast_repo, cast_template

__all__ = ["cast_repo", "cast_template"]
