"""refmgr pin CODEC: pin a codec library version in refmgr.toml."""

from __future__ import annotations

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json, plural


@click.command()
@click.argument("codec_id", metavar="CODEC")
@click.option("--library-version", help="Version to pin (default: the version installed here).")
@json_option
def pin(codec_id: str, library_version: str | None, as_json: bool) -> int:
    """Pin CODEC's library version in refmgr.toml; every manifest must then agree."""
    from refmgr.commands.pin import pin_codec
    from refmgr.store import open_for_writing

    result = pin_codec(open_for_writing(), codec_id, library_version=library_version)
    if as_json:
        emit_json(result.to_json())
        return 0
    before = f" (was {result.before})" if result.before and result.before != result.after else ""
    click.echo(f"pinned {result.codec}: {result.library} {result.after}{before}")
    if result.stale:
        click.echo(
            f"{plural(len(result.stale), 'reference')} now with a stale pin "
            f"({', '.join(result.stale)}): re-encode with refmgr add --force",
            err=True,
        )
    return 0
