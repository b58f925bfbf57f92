"""refmgr say: one line in a reference's voice."""

from __future__ import annotations

from pathlib import Path

import click

from refmgr.backends.registry import ENGINES
from refmgr.cli.options import (
    device_option,
    json_option,
    param_option,
    precision_option,
    unpinned_option,
)
from refmgr.cli.output import emit_json, warn
from refmgr.errors import display_path


@click.command()
@click.argument("name")
@click.argument("text")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="WAV file to write (default: listen/NAME-say.wav, which git ignores).",
)
@click.option(
    "--engine",
    "engine_id",
    type=click.Choice(sorted(ENGINES)),
    help="Engine (default: engines.default in refmgr.toml if it takes NAME's codec, else the "
    "engine made for NAME's codec).",
)
@param_option("seed", help="Sampling seed (default: render.seed in refmgr.toml).")
@param_option("temperature", help="Default: render.temperature.")
@param_option("top_p", help="Default: render.top_p.")
@param_option("repetition_penalty", help="Default: render.repetition_penalty.")
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=0),
    help="Most token frames to generate per segment (0: up to the model's context, where "
    "the engine allows it; "
    "default: render.max_new_tokens).",
)
@device_option
@precision_option
@unpinned_option
@json_option
def say(
    name: str,
    text: str,
    output: Path | None,
    engine_id: str | None,
    seed: int | None,
    temperature: float | None,
    top_p: float | None,
    repetition_penalty: float | None,
    max_new_tokens: int | None,
    device: str | None,
    precision: str | None,
    allow_unpinned: bool,
    as_json: bool,
) -> int:
    """Speak TEXT in the voice of reference NAME and write it to a WAV file."""
    from refmgr.checkpoints import RunOptions
    from refmgr.commands.say import say as say_line
    from refmgr.store import open_for_writing

    result = say_line(
        open_for_writing(),
        name,
        text,
        output,
        engine_id=engine_id,
        params={
            name: value
            for name, value in (
                ("seed", seed),
                ("temperature", temperature),
                ("top_p", top_p),
                ("repetition_penalty", repetition_penalty),
                ("max_new_tokens", max_new_tokens),
            )
            if value is not None
        },
        options=RunOptions(device=device, precision=precision, allow_unpinned=allow_unpinned),
    )
    for w in result.warnings:
        warn(w)
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(
            f"said {result.duration_s:.2f} s in the voice of {name} ({result.engine}, "
            f"seed {result.params.seed}) -> {display_path(result.output)}"
        )
    return 0
