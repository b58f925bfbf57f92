"""refmgr add: encode recordings into token files and manifests."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from refmgr.cli.options import device_option, json_option, stage_option, unpinned_option
from refmgr.cli.output import emit_json, human_bytes, warn
from refmgr.errors import display_path


@click.command()
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--name", help="Reference name (default: the recording's file name without extension)."
)
@click.option("--text", help="Transcript of the recording.")
@click.option(
    "--text-file",
    type=click.Path(path_type=Path),
    help="File holding the transcript (default: REC.lab or REC.txt beside the recording).",
)
@click.option("--language", help="Language of the recording, as a BCP 47 tag (en, en-GB, ja).")
@click.option("--codec", "codec_id", help="Codec id (default: codecs.default in refmgr.toml).")
@click.option("--force", is_flag=True, help="Replace references that already exist.")
@click.option(
    "--quality/--no-quality",
    default=None,
    help="Measure each recording and refuse it past [quality.reference] (default: "
    "REFMGR_QUALITY=auto|on|off, auto: when refmgr[qa] is installed; --quality without it "
    "exits 2).",
)
@device_option
@unpinned_option
@stage_option
@json_option
def add(
    recordings: tuple[Path, ...],
    name: str | None,
    text: str | None,
    text_file: Path | None,
    language: str | None,
    codec_id: str | None,
    force: bool,
    quality: bool | None,
    device: str | None,
    allow_unpinned: bool,
    stage: bool,
    as_json: bool,
) -> int:
    """Encode RECORDINGS into token files and manifests.

    Each recording becomes refs/NAME.npy plus manifests/NAME.json; the recording itself
    stays out of the repository. All recordings are checked and encoded before anything
    is written: one bad file changes nothing.
    """
    from refmgr.checkpoints import RunOptions
    from refmgr.commands.add import add_references
    from refmgr.store import open_for_writing

    project = open_for_writing()
    show_progress = not as_json and sys.stderr.isatty()

    def progress(i: int, n: int, path: Path) -> None:
        click.echo(f"[{i + 1}/{n}] encoding {display_path(path)}", err=True)

    results = add_references(
        project,
        list(recordings),
        name=name,
        text=text,
        text_file=text_file,
        language=language,
        codec_id=codec_id,
        force=force,
        stage=stage,
        progress=progress if show_progress else None,
        options=RunOptions(device=device, allow_unpinned=allow_unpinned),
        quality=quality,
    )
    for r in results:
        for w in r.warnings:
            warn(f"{display_path(r.source)}: {w}")
    if as_json:
        emit_json([r.to_json() for r in results])
        return 0
    for r in results:
        verb = "replaced" if r.replaced else "added"
        ratio = r.source_bytes / r.token_bytes
        click.echo(
            f"{verb} {r.name}: {r.frames} frames ({r.duration_s:.1f} s, {r.codec}), "
            f"{human_bytes(r.token_bytes)} of tokens from {human_bytes(r.source_bytes)} "
            f"({ratio:.0f}x smaller) -> {r.tokens_path}, {r.manifest_path}"
        )
    return 0
