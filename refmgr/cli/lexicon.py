"""refmgr lexicon: the pronunciation lexicon (lexicon.toml)."""

from __future__ import annotations

from pathlib import Path

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json


@click.group()
def lexicon() -> None:
    """The pronunciation lexicon: lexicon.toml at the repository's root (see the README)."""


@lexicon.command()
@click.argument("scripts", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@json_option
def check(scripts: tuple[Path, ...], as_json: bool) -> int:
    """Report entries that match no line of SCRIPTS, and duplicate or conflicting entries.

    Without SCRIPTS: every script a render lock in renders/ belongs to. Exits 1 when
    anything is reported; lexicon.toml itself is checked by `refmgr validate` too.
    """
    from refmgr.commands.lexicon import check_lexicon
    from refmgr.project import open_project

    result = check_lexicon(open_project(), scripts)
    if as_json:
        emit_json(result.to_json())
    else:
        for finding in result.findings:
            click.echo(str(finding), err=True)
        click.echo(
            f"lexicon.toml: {result.entries} entries, {len(result.findings)} findings, "
            f"{result.lines} lines of {len(result.scripts)} scripts"
        )
    return 1 if result.findings else 0
