"""Commands that manage references: init, add, ls, show, rm, decode."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from refmgr.cli.options import device_option, json_option, unpinned_option
from refmgr.cli.output import emit_json, excerpt, human_bytes, repo_relative, table, warn
from refmgr.errors import display_path

stage_option = click.option("--stage", is_flag=True, help="Stage the changed files in git.")


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--no-git", is_flag=True, help="Do not run git init when DIRECTORY is not in a git repository."
)
@json_option
def init(directory: Path, no_git: bool, as_json: bool) -> int:
    """Create a voice repository in DIRECTORY (default: here). Safe to run again."""
    from refmgr.commands.init import init_repository

    result = init_repository(directory, git=not no_git)
    if as_json:
        emit_json(
            {
                "root": str(result.root),
                "created": result.created,
                "updated": result.updated,
                "git_initialized": result.git_initialized,
                "ignored_by": result.ignored_by,
            }
        )
        return 0
    if result.git_initialized:
        why = f": {result.ignored_by}" if result.ignored_by else ""
        click.echo(f"initialized git repository in {display_path(result.root)}{why}")
    elif result.ignored_by:
        warn(
            f"{display_path(result.root)}: {result.ignored_by}, so nothing in it can be "
            f"committed there: run git init {display_path(result.root)}, then refmgr init"
        )
    for item in result.created:
        click.echo(f"created {item}")
    for item in result.updated:
        click.echo(f"updated {item}")
    if not (result.created or result.updated):
        click.echo(f"{display_path(result.root)} is already a voice repository; nothing to do")
    return 0


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


@click.command()
@click.argument("names", nargs=-1, required=True)
@stage_option
@json_option
def rm(names: tuple[str, ...], stage: bool, as_json: bool) -> int:
    """Remove references NAMES (manifest and token file together)."""
    from refmgr.commands.rm import remove_references
    from refmgr.store import open_for_writing

    removed = remove_references(open_for_writing(), list(names), stage=stage)
    if as_json:
        emit_json({"removed": removed})
    else:
        for path in removed:
            click.echo(f"removed {path}")
    return 0


@click.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="WAV file to write (default: listen/NAME.wav, which git ignores).",
)
@click.option(
    "--sample-rate", type=click.IntRange(8000, 192000), help="Resample to this rate (Hz)."
)
@device_option
@unpinned_option
@json_option
def decode(
    name: str,
    output: Path | None,
    sample_rate: int | None,
    device: str | None,
    allow_unpinned: bool,
    as_json: bool,
) -> int:
    """Decode the stored tokens of NAME back to audio, to hear what the repository keeps."""
    from refmgr.checkpoints import RunOptions
    from refmgr.commands.decode import decode_reference
    from refmgr.store import open_for_writing

    result = decode_reference(
        open_for_writing(),
        name,
        output,
        sample_rate=sample_rate,
        options=RunOptions(device=device, allow_unpinned=allow_unpinned),
    )
    for w in result.warnings:
        warn(w)
    if as_json:
        emit_json({**result.to_json(), "output": repo_relative(result.output)})
    else:
        click.echo(
            f"decoded {name}: {result.duration_s:.1f} s at {result.sample_rate} Hz -> "
            f"{display_path(result.output)}"
        )
    return 0
