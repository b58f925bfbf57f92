"""refmgr model: manage the checkpoints of models with weights (Fish Speech)."""

from __future__ import annotations

from pathlib import Path

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json
from refmgr.errors import display_path


@click.group()
def model() -> None:
    """Pin model checkpoints: where they are and what their files must hash to."""


@model.command()
@click.argument("model_id", metavar="MODEL")
@click.argument("directory", type=click.Path(path_type=Path))
@json_option
def pin(model_id: str, directory: Path, as_json: bool) -> int:
    """Record the sha256 of every file in DIRECTORY as MODEL's pins in refmgr.toml.

    A DIRECTORY inside the repository is recorded in refmgr.toml (relative); one outside it
    in your own checkpoints.toml, so no machine-specific path is committed.
    """
    from refmgr.commands.model import pin_checkpoint
    from refmgr.store import open_for_writing

    result = pin_checkpoint(open_for_writing(), model_id, directory)
    if as_json:
        emit_json(result.to_json())
        return 0
    click.echo(
        f"pinned {result.model}: {len(result.files)} files in {display_path(result.directory)} "
        f"({len(result.changed)} changed); location recorded in {result.location}"
    )
    for name in result.changed:
        click.echo(f"  {name}  {result.files.get(name, '(removed)')}")
    if result.allowed_codec:
        click.echo(f"added {result.model} to codecs.allowed")
    return 0
