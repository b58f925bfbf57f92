"""refmgr validate: the commit hook, loaded on its own: it imports only what validating needs."""

from __future__ import annotations

from pathlib import Path

import click

from refmgr.cli.options import json_option, root_option, staged_option
from refmgr.cli.output import emit_json, finding_path, plural


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@staged_option
@root_option
@json_option
def validate(paths: tuple[Path, ...], staged: bool, root: Path | None, as_json: bool) -> int:
    """Check manifests, token files and refmgr.toml; exit 1 if anything is wrong.

    With PATHS (as pre-commit passes them), check those references' manifests and token
    files; the checks of pairs and stray recordings always cover the whole repository.
    Every problem is printed as `path: problem`.
    """
    from refmgr.commands.validate import validate_repository

    result = validate_repository(root, paths=paths, staged=staged)
    if as_json:
        emit_json(result.to_json())
    else:
        for finding in result.findings:
            click.echo(f"{finding_path(result.root, finding.path)}: {finding.problem}")
        if not result.findings:
            click.echo(f"ok: {plural(result.references, 'reference')} in the {result.source}")
    return 1 if result.findings else 0
