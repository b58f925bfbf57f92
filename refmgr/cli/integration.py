"""Commands that wire refmgr into git: hooks install/uninstall, textconv."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json
from refmgr.errors import display_path

if TYPE_CHECKING:
    from refmgr.commands.hooks import HookChange


@click.group()
def hooks() -> None:
    """Install or remove refmgr's plain git hooks (for repositories without pre-commit)."""


@hooks.command()
@click.option(
    "--force", is_flag=True, help="Replace a hook refmgr did not write (it is kept aside)."
)
@json_option
def install(force: bool, as_json: bool) -> int:
    """Install the pre-commit hook that runs refmgr validate --staged."""
    from refmgr.commands.hooks import install_hooks
    from refmgr.project import find_root

    changes = install_hooks(find_root(Path.cwd()), force=force)
    _show(changes, as_json)
    return 0


@hooks.command()
@json_option
def uninstall(as_json: bool) -> int:
    """Remove refmgr's hooks (and put back a hook they replaced); others are left alone."""
    from refmgr.commands.hooks import uninstall_hooks
    from refmgr.project import find_root

    _show(uninstall_hooks(find_root(Path.cwd())), as_json)
    return 0


def _show(changes: list[HookChange], as_json: bool) -> None:
    if as_json:
        emit_json([{"path": str(c.path), "action": c.action, "detail": c.detail} for c in changes])
        return
    for c in changes:
        detail = f" ({c.detail})" if c.detail else ""
        click.echo(f"{c.action} {display_path(c.path)}{detail}")


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
