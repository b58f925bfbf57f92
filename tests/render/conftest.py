"""Fixtures of the tests that render: see tests/support/cast.py."""

from tests.support.cast import cast_repo, cast_template

__all__ = ["cast_repo", "cast_template"]
