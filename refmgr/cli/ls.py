"""refmgr ls / show: what references the repository holds."""

from __future__ import annotations

import click

from refmgr.cli.options import json_option
from refmgr.cli.output import emit_json, excerpt, human_bytes, table


@click.command()
@json_option
def ls(as_json: bool) -> int:
    """List the references in this voice repository."""
    from refmgr.commands.ls import list_references
    from refmgr.project import open_project

    summaries, problems = list_references(open_project())
    for problem in problems:
        click.echo(str(problem), err=True)
    if as_json:
        emit_json([s.to_json() for s in summaries])
    elif summaries:
        rows = [
            [
                s.name,
                s.codec,
                f"{s.duration_s:.1f} s",
                str(s.frames),
                human_bytes(s.token_bytes),
                excerpt(s.transcript),
            ]
            for s in summaries
        ]
        click.echo(
            table(
                ["NAME", "CODEC", "DURATION", "FRAMES", "TOKENS", "TRANSCRIPT"],
                rows,
                frozenset({2, 3, 4}),
            )
        )
    elif not problems:  # a broken manifest is not "no references yet"
        click.echo('no references yet; add one with: refmgr add REC.wav --text "..."', err=True)
    return 1 if problems else 0


@click.command()
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> int:
    """Show everything the manifest of reference NAME pins."""
    from refmgr.commands.ls import show_reference
    from refmgr.project import open_project

    info = show_reference(open_project(), name)
    if as_json:
        emit_json(info)
    else:
        m = info["manifest"]
        codec, source, tokens, voice = m["codec"], m["source"], m["tokens"], m["voice"]
        lines = [
            ("name", m["name"]),
            ("transcript", m["transcript"]),
            ("language", m["language"] or "-"),
            ("codec", f"{codec['id']} ({codec['library']['name']} {codec['library']['version']})"),
            (
                "tokens",
                f"{info['tokens_path']}: {tokens['dtype']} {tokens['shape']}, "
                f"{tokens['bytes']} bytes",
            ),
            ("tokens sha256", tokens["sha256"]),
            ("tokens check", info["tokens_status"]),
            (
                "source",
                f"{source['file']}: {source['duration_s']:.2f} s, "
                f"{source['sample_rate']} Hz, {source['channels']} ch, {source['bytes']} bytes",
            ),
            ("source sha256", source["sha256"]),
            (
                "voice",
                f"median F0 {voice['f0_median_hz'] or '-'} Hz, "
                f"{voice['speaking_rate_wpm'] or '-'} words/min",
            ),
            ("created", f"{m['created']['at']} by refmgr {m['created']['refmgr_version']}"),
        ]
        if "checkpoint" in codec:
            for file, digest in sorted(codec["checkpoint"]["files"].items()):
                lines.append((f"checkpoint {file}", digest))
        width = max(len(k) for k, _ in lines)
        for key, value in lines:
            click.echo(f"{key.ljust(width)}  {value}")
    return 0 if info["tokens_status"] == "ok" else 1
