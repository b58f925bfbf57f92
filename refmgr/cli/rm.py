"""refmgr rm: remove references."""

from __future__ import annotations

import click

from refmgr.cli.options import json_option, stage_option
from refmgr.cli.output import emit_json


@click.command()
@click.argument("names", nargs=-1, required=True)
@stage_option
@json_option
def rm(names: tuple[str, ...], stage: bool, as_json: bool) -> int:
    """Remove references NAMES (manifest and token file together)."""
    from refmgr.commands.rm import remove_references, removed_json
    from refmgr.store import open_for_writing

    removed = remove_references(open_for_writing(), list(names), stage=stage)
    if as_json:
        emit_json(removed_json(removed))
    else:
        for path in removed:
            click.echo(f"removed {path}")
    return 0
