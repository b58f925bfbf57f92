"""refmgr status: like git status, for voices."""

from __future__ import annotations

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json, plural
from refmgr.errors import display_path


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
