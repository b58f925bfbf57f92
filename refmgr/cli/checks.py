"""Commands that check a voice repository: validate, no-raw-audio, status, pin."""

from __future__ import annotations

import os
from pathlib import Path

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json
from refmgr.errors import display_path

staged_option = click.option(
    "--staged", is_flag=True, help="Check the git index (what is about to be committed)."
)
root_option = click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The voice repository (default: found from the working directory). PATHS stay "
    "relative to the working directory, as pre-commit passes them.",
)


def _shown(root: Path, path: str) -> str:
    return display_path(os.path.normpath(root / path))


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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
            click.echo(f"{_shown(result.root, finding.path)}: {finding.problem}")
        if not result.findings:
            click.echo(f"ok: {plural(result.references, 'reference')} in the {result.source}")
    return 1 if result.findings else 0


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
        emit_json(
            {
                "ok": not result.findings,
                "checked": result.checked,
                "findings": [f.to_json() for f in result.findings],
            }
        )
    else:
        for finding in result.findings:
            click.echo(f"{_shown(result.root, finding.path)}: {finding.problem}")
    return 1 if result.findings else 0


@click.command()
@json_option
def status(as_json: bool) -> int:
    """Show references not yet committed, changed, orphaned or with stale pins."""
    from refmgr.commands.status import CATEGORIES, repository_status
    from refmgr.project import open_project

    project = open_project()
    result = repository_status(project)
    if as_json:
        emit_json(result.to_json())
        return 0
    click.echo(
        f"voice repository {display_path(project.root)}: {plural(result.references, 'reference')}"
    )
    if not result.git:
        click.echo("(not a git repository: nothing to say about commits)")
    for category in CATEGORIES:
        entries = [e for e in result.entries if e.category == category]
        if entries:
            click.echo(f"\n{category[0].upper()}{category[1:]}:")
            width = max(len(e.name) for e in entries)
            for e in entries:
                click.echo(f"  {e.name.ljust(width)}  {e.detail}")
    if result.warnings:
        click.echo("\nGit:")
        for w in result.warnings:
            click.echo(f"  {w.detail}")
    if not (result.entries or result.warnings):
        click.echo("nothing to commit, no problems")
    if result.pins:
        click.echo("\nPins:")
        for p in result.pins:
            pinned = p.pinned or "not pinned"
            mark = "" if p.installed == p.pinned else f" (installed: {p.installed or 'none'})"
            click.echo(
                f"  {p.codec}: {p.library} {pinned}{mark}, {plural(p.references, 'reference')}"
            )
    return 0


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
