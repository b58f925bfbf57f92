"""refmgr init: create (or complete) a voice repository."""

from __future__ import annotations

from pathlib import Path

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json, warn
from refmgr.errors import display_path


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--no-git", is_flag=True, help="Do not run git init when DIRECTORY is not in a git repository."
)
@json_option
def init(directory: Path, no_git: bool, as_json: bool) -> int:
    """Create a voice repository in DIRECTORY (default: here). Safe to run again."""
    from refmgr.commands.init import init_repository

    result = init_repository(directory, git=not no_git)
    if as_json:
        emit_json(result.to_json())
        return 0
    if result.git_initialized:
        why = f": {result.ignored_by}" if result.ignored_by else ""
        click.echo(f"initialized git repository in {display_path(result.root)}{why}")
    elif result.ignored_by:
        warn(
            f"{display_path(result.root)}: {result.ignored_by}, so nothing in it can be "
            f"committed there: run git init {display_path(result.root)}, then refmgr init"
        )
    for item in result.created:
        click.echo(f"created {item}")
    for item in result.updated:
        click.echo(f"updated {item}")
    if not (result.created or result.updated):
        click.echo(f"{display_path(result.root)} is already a voice repository; nothing to do")
    return 0
