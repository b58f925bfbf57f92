"""refmgr recover: finish a change an interrupted refmgr left."""

from __future__ import annotations

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json


@click.command()
@json_option
def recover(as_json: bool) -> int:
    """Finish a change an interrupted refmgr left (add, rm, pin); remove its temporaries."""
    from refmgr.commands.recover import recover_repository

    result = recover_repository()
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo("finished an interrupted change" if result.finished else "nothing to recover")
    return 0
