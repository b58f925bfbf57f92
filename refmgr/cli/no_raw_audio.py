"""refmgr no-raw-audio: a commit hook."""

from __future__ import annotations

from pathlib import Path

import click

from refmgr.cli.options import json_option, root_option, staged_option
from refmgr.cli.output import emit_json, finding_path


@click.command("no-raw-audio")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@staged_option
@root_option
@json_option
def no_raw_audio(paths: tuple[Path, ...], staged: bool, root: Path | None, as_json: bool) -> int:
    """Fail if PATHS include recordings, or oversized files under refs/ (a commit hook).

    Recordings are known by extension and by their first bytes; refmgr.toml's
    [hooks] allow_audio lists globs where they are allowed.
    """
    from refmgr.commands.no_raw_audio import check_no_raw_audio

    result = check_no_raw_audio(root, paths=paths, staged=staged)
    if as_json:
        emit_json(result.to_json())
    else:
        for finding in result.findings:
            click.echo(f"{finding_path(result.root, finding.path)}: {finding.problem}")
    return 1 if result.findings else 0
