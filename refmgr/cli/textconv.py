"""refmgr textconv: git's diff.refmgr.textconv."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--codec", "codec_id", help="Codec id (default: inferred from the file).")
@click.option(
    "--git",
    "for_git",
    is_flag=True,
    help="Never fail: describe a bad file in the output (for git's diff.refmgr.textconv).",
)
def textconv(file: Path, codec_id: str | None, for_git: bool) -> int:
    """Print a token file (.npy) as stable text: codec, shape, duration, sha256, code usage."""
    from refmgr.commands.textconv import textconv as summary
    from refmgr.commands.textconv import textconv_for_git
    from refmgr.config import Limits
    from refmgr.errors import RefmgrError
    from refmgr.project import open_project

    try:
        max_bytes = open_project().config.limits.max_token_bytes
    except RefmgrError:  # outside a voice repository: the default limit
        max_bytes = Limits().max_token_bytes
    if for_git:
        click.echo(textconv_for_git(file, max_bytes=max_bytes), nl=False)
    else:
        click.echo(summary(file, max_bytes=max_bytes, codec_id=codec_id), nl=False)
    return 0
