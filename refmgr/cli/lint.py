"""refmgr lint: the references' quality measures against [quality.reference]."""

from __future__ import annotations

import sys

import click

from refmgr.cli.options import device_option, json_option, unpinned_option
from refmgr.cli.output import emit_json, warn
from refmgr.errors import display_path


@click.command()
@click.argument("names", nargs=-1)
@click.option(
    "--update",
    is_flag=True,
    help="Measure references that have no quality measures yet (added without refmgr[qa]) "
    "from their decoded tokens, and write them to their manifests.",
)
@device_option
@unpinned_option
@json_option
def lint(
    names: tuple[str, ...],
    update: bool,
    device: str | None,
    allow_unpinned: bool,
    as_json: bool,
) -> int:
    """Judge the references' quality measures; exit 1 if one breaks a refusal limit.

    Checks NAMES (default: every reference) against the limits in [quality.reference] of
    refmgr.toml as they are now: measures stored at `refmgr add` time (on the recording)
    or by `lint --update` (on audio decoded from the tokens: the embedding's source is then
    "tokens", and DNSMOS and SNR, which the codec distorts, are not judged). Reading the
    stored measures needs nothing extra; --update needs refmgr[qa].
    """
    from refmgr.checkpoints import RunOptions
    from refmgr.commands.lint import NOT_MEASURED, lint_references
    from refmgr.project import open_project
    from refmgr.store import open_for_writing

    project = open_for_writing() if update else open_project()

    def progress(i: int, n: int, name: str) -> None:
        click.echo(f"[{i + 1}/{n}] measuring {name}", err=True)

    result = lint_references(
        project,
        names,
        update=update,
        options=RunOptions(device=device, allow_unpinned=allow_unpinned),
        progress=progress if not as_json and sys.stderr.isatty() else None,
    )
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if as_json:
        emit_json([item.to_json() for item in result.items])
        return 1 if result.failed else 0
    for item in result.items:
        where = display_path(project.root / item.manifest)
        if item.measures is None:
            warn(f"{where}: {NOT_MEASURED}")
            continue
        for v in item.verdicts:
            if v.level == "refuse":
                click.echo(f"{where}: {v.message}", err=True)
            else:
                warn(f"{where}: {v.message}")
        state = "refused" if item.refused else "ok"
        note = ", measured now" if item.updated else ""
        on = "the recording" if item.source == "recording" else "decoded tokens"
        click.echo(f"{item.name}: {state} (measured on {on}{note})")
    return 1 if result.failed else 0
