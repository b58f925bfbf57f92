"""refmgr hooks install / uninstall: the plain git hooks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json
from refmgr.errors import display_path

if TYPE_CHECKING:
    from refmgr.commands.hooks import HookChange


@click.group()
def hooks() -> None:
    """Install or remove refmgr's plain git hooks (for repositories without pre-commit)."""


@hooks.command()
@click.option(
    "--force", is_flag=True, help="Replace a hook refmgr did not write (it is kept aside)."
)
@json_option
def install(force: bool, as_json: bool) -> int:
    """Install the pre-commit hook that runs refmgr validate --staged."""
    from refmgr.commands.hooks import install_hooks
    from refmgr.project import find_root

    changes = install_hooks(find_root(Path.cwd()), force=force)
    _show(changes, as_json)
    return 0


@hooks.command()
@json_option
def uninstall(as_json: bool) -> int:
    """Remove refmgr's hooks (and put back a hook they replaced); others are left alone."""
    from refmgr.commands.hooks import uninstall_hooks
    from refmgr.project import find_root

    _show(uninstall_hooks(find_root(Path.cwd())), as_json)
    return 0


def _show(changes: list[HookChange], as_json: bool) -> None:
    if as_json:
        emit_json([c.to_json() for c in changes])
        return
    for c in changes:
        detail = f" ({c.detail})" if c.detail else ""
        click.echo(f"{c.action} {display_path(c.path)}{detail}")
