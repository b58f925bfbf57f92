"""refmgr decode: a reference's tokens back to audio."""

from __future__ import annotations

from pathlib import Path

import click

from refmgr.cli.options import device_option, json_option, unpinned_option
from refmgr.cli.output import emit_json, warn
from refmgr.errors import display_path


@click.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="WAV file to write (default: listen/NAME.wav, which git ignores).",
)
@click.option(
    "--sample-rate", type=click.IntRange(8000, 192000), help="Resample to this rate (Hz)."
)
@device_option
@unpinned_option
@json_option
def decode(
    name: str,
    output: Path | None,
    sample_rate: int | None,
    device: str | None,
    allow_unpinned: bool,
    as_json: bool,
) -> int:
    """Decode the stored tokens of NAME back to audio, to hear what the repository keeps."""
    from refmgr.checkpoints import RunOptions
    from refmgr.commands.decode import decode_reference
    from refmgr.store import open_for_writing

    result = decode_reference(
        open_for_writing(),
        name,
        output,
        sample_rate=sample_rate,
        options=RunOptions(device=device, allow_unpinned=allow_unpinned),
    )
    for w in result.warnings:
        warn(w)
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(
            f"decoded {name}: {result.duration_s:.1f} s at {result.sample_rate} Hz -> "
            f"{display_path(result.output)}"
        )
    return 0
