"""cli/ mirrors commands/: one module per command (or group) on both sides, so that a
reader finds `refmgr NAME`'s arguments in cli/NAME.py and its work in commands/NAME.py."""

from __future__ import annotations

import pkgutil
from collections.abc import Iterable

import refmgr.cli
import refmgr.commands
from refmgr.cli import COMMANDS

SHARED = {"options", "output"}  # helpers of several commands, no command of their own


def _modules(path: Iterable[str]) -> set[str]:
    return {m.name for m in pkgutil.iter_modules(path)}


def test_every_command_module_has_its_cli_module_and_no_other() -> None:
    assert _modules(refmgr.cli.__path__) - SHARED == _modules(refmgr.commands.__path__)


def test_the_lazy_table_points_each_command_at_its_own_module() -> None:
    commands = _modules(refmgr.commands.__path__)
    for name, target in COMMANDS.items():
        module, _, attr = target.partition(":")
        package, _, leaf = module.rpartition(".")
        assert package == "refmgr.cli" and leaf in commands, (name, target)
        # `show` lives with `ls`, as in commands/ls.py; every other command in its own.
        assert leaf == ("ls" if name == "show" else name.replace("-", "_")), (name, target)
        assert attr == name.replace("-", "_"), (name, target)
