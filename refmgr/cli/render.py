"""``refmgr render SCRIPT``, and ``render status``, ``export``, ``merge``, ``mix``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from refmgr.backends.registry import ENGINES
from refmgr.cli.options import device_option, json_option, precision_option, unpinned_option
from refmgr.cli.output import emit_json, table
from refmgr.config import MAX_GAP_S, MAX_RETAKES
from refmgr.errors import RefmgrError, display_path
from refmgr.params import MAX_SEED
from refmgr.render.mix import MixResult
from refmgr.render.plan import Action, Plan, Shard, Step
from refmgr.render.runner import EXECUTORS, Failure, RunResult

if TYPE_CHECKING:
    from refmgr.commands.render import LineScores, RenderResult
    from refmgr.deliver.compare import DriftReport

script_argument = click.argument("script", type=click.Path(dir_okay=True, path_type=Path))
engine_option = click.option(
    "--engine",
    "engine_id",
    type=click.Choice(sorted(ENGINES)),
    help="Engine to render with (default: engines.default in refmgr.toml).",
)
seed_option = click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    help="Seed of every line without its own {seed=N} (default: render.seed in refmgr.toml).",
)


gap_option = click.option(
    "--gap",
    "gap_s",
    type=click.FloatRange(0, MAX_GAP_S),
    help="Seconds of silence between lines in the mix (default: render.gap_s; a line's "
    "{gap=S} wins).",
)


def _loudness(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from refmgr.deliver.loudness import parse_target

    try:
        return parse_target(value)
    except RefmgrError as e:
        raise click.BadParameter(e.message.removeprefix("--loudness: ")) from None


loudness_option = click.option(
    "--loudness",
    callback=_loudness,
    metavar="PRESET|LUFS[:DBTP]",
    help="Level the characters against each other, then normalize the mix: podcast "
    "(-16 LUFS, -1 dBTP), broadcast (EBU R128: -23 LUFS, -1 dBTP), audiobook (ACX: "
    "-20 dB RMS, -3 dB peak), or a target such as -14:-1.5. Needs refmgr[deliver].",
)


class RenderGroup(click.Group):
    """Runs ``run`` when the first argument is not a subcommand: ``render SCRIPT``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `render SCRIPT` is `render run SCRIPT`: its options belong on this page too.
        run = self.commands["run"]
        records = [
            r
            for p in run.get_params(ctx)
            if isinstance(p, click.Option) and (r := p.get_help_record(ctx)) is not None
        ]
        with formatter.section("Options of refmgr render SCRIPT"):
            formatter.write_dl(records)
        super().format_options(ctx, formatter)


@click.group(cls=RenderGroup)
def render() -> None:
    """Render script lines in their characters' voices: refmgr render SCRIPT [OPTIONS].

    Only lines whose inputs changed are rendered; renders/SCRIPT.lock.json records what
    every output was made from. A script that is itself named 'status', 'export', 'merge',
    'mix', 'report', 'compare' or 'run' is given as ./status.
    """


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Shard | None:
    if value is None:
        return None
    try:
        return Shard.parse(value)
    except RefmgrError as e:
        raise click.BadParameter(e.message.removeprefix("--shard ")) from None


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _require_committed(value: bool | None) -> bool:
    return _in_ci() if value is None else value


def _gate(value: bool | None) -> bool:
    """--gate/--no-gate, else on in CI when the scorers are installed (without them CI
    renders unscored, and says so: asking for --gate is what makes that an error)."""
    if value is not None:
        return value
    if not _in_ci():
        return False
    from refmgr.quality.available import missing_modules

    missing = missing_modules()
    if missing:
        click.echo(
            f"refmgr: quality gate off: the scorers are not installed (no {', '.join(missing)}); "
            "install refmgr[qa], or pass --no-gate to say so",
            err=True,
        )
    return not missing


def _page_name(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    from refmgr.commands.render import PAGE_SUFFIXES

    if value is not None and value.suffix.lower() not in PAGE_SUFFIXES:
        raise click.BadParameter(f"{value}: the review page is an .html file")
    return value


@render.command("run")
@script_argument
@engine_option
@device_option
@precision_option
@unpinned_option
@seed_option
@click.option("--force", is_flag=True, help="Render the chosen lines even if they are up to date.")
@click.option(
    "--only", multiple=True, metavar="ID", help="Only this line: its [id] or number. Repeatable."
)
@click.option(
    "--shard",
    callback=_shard,
    metavar="K/N",
    help="Only shard K of N (CI matrices); see `render merge`.",
)
@click.option(
    "--require-committed/--no-require-committed",
    default=None,
    help="Refuse references and manifests that are not committed and clean (default: on when CI is set).",
)
@click.option(
    "--mix",
    type=click.Path(path_type=Path),
    help="Also write every line, in order, to this file (.wav, .flac, .ogg or .mp3), with "
    ".srt and .vtt subtitles and a .mix.json record beside it.",
)
@gap_option
@loudness_option
@click.option(
    "--gate/--no-gate",
    default=None,
    help="Exit 1 if a line fails the quality limits of [quality.render]; needs refmgr[qa] "
    "(default: on when CI is set and refmgr[qa] is installed). Scores are recorded either way.",
)
@click.option(
    "--retakes",
    type=click.IntRange(0, MAX_RETAKES),
    metavar="N",
    help="Render a line that fails the limits again with up to N other seeds, keeping the "
    "first take that passes (default: quality.render.retakes).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_page_name,
    metavar="FILE.html",
    help="Also write the review page (as `render report`) to FILE.html, and print its path.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    metavar="N",
    help="Lines an engine that batches (fish) renders in one pass, at most (default: what "
    "the device's memory allows). On a CPU not part of the cache key; on a GPU the pins "
    "record it (a batch's shape decides the bytes there).",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="Where lines render: this process, or the workers of a Ray cluster (refmgr[ray]). "
    "Same outputs and lock either way.",
)
@click.option(
    "--address",
    metavar="HOST:PORT",
    help="With --executor ray: join this Ray cluster (its head's address, or auto) instead "
    "of starting a local one.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="With --executor ray: this many workers (default: one per GPU of the cluster, or "
    "per CPU for a CPU engine).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be done; write nothing.")
@json_option
def run(
    script: Path,
    engine_id: str | None,
    device: str | None,
    precision: str | None,
    allow_unpinned: bool,
    seed: int | None,
    force: bool,
    only: tuple[str, ...],
    shard: Shard | None,
    require_committed: bool | None,
    mix: Path | None,
    gap_s: float | None,
    loudness: Any,
    gate: bool | None,
    retakes: int | None,
    report: Path | None,
    batch: int | None,
    executor: str,
    address: str | None,
    workers: int | None,
    dry_run: bool,
    as_json: bool,
) -> int:
    """Render the lines of SCRIPT that changed into renders/SCRIPT/, and lock them.

    With refmgr[qa] installed every output is scored (speaker similarity, cast
    identification, level, silence, duration, DNSMOS) and the scores go into the lock.
    """
    from refmgr.commands.render import RenderOptions, plan_render, render_script
    from refmgr.project import open_project
    from refmgr.store import open_for_writing

    if report is not None and (dry_run or shard is not None):
        # A shard's lock holds a part of the script, and a dry run writes nothing.
        raise click.UsageError(f"--report cannot go with {'--dry-run' if dry_run else '--shard'}")
    project = open_project() if dry_run else open_for_writing()
    options = RenderOptions(
        engine_id=engine_id,
        device=device,
        precision=precision,
        allow_unpinned=allow_unpinned,
        seed=seed,
        force=force,
        only=only,
        shard=shard,
        require_committed=_require_committed(require_committed),
        gate=False if dry_run else _gate(gate),
        retakes=retakes,
        batch=batch,
        executor=executor,
        address=address,
        workers=workers,
    )
    if dry_run:
        plan = plan_render(project, script, options=options)
        _print_warnings(plan)
        if as_json:
            emit_json(plan.to_json())
        else:
            _print_plan(plan, selected_only=True)
        return _report_refused(plan)
    bar = _ProgressBar() if sys.stderr.isatty() and not as_json else None
    try:
        result = render_script(
            project,
            script,
            options=options,
            mix=mix,
            gap_s=gap_s,
            loudness=loudness,
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.close()
    outcome = result.run
    _print_warnings(result.plan)
    page = None
    if report is not None and outcome.lock is not None:
        from refmgr.commands.render import report_script

        page = report_script(project, script, report, mix=result.mix.path if result.mix else None)
    if as_json:
        document = result.to_json()
        if report is not None:
            document["report"] = None if page is None else page.to_json()
        emit_json(document)
    _print_failures(result.plan, outcome.failures)
    _print_gate(result)
    if result.mix_error is not None:
        click.echo(str(result.mix_error), err=True)
    if not as_json:
        _print_summary(result.plan, outcome)
        _print_quality_summary(result)
        if result.mix is not None:
            _print_mix(result.mix)
    missed = 0 if result.mix is None else _mix_status(result.mix)
    if page is not None and not as_json:
        click.echo(f"report:  {display_path(page.path)}")
    return 0 if result.ok and not missed else 1


@render.command()
@script_argument
@engine_option
@device_option
@precision_option
@unpinned_option
@seed_option
@json_option
def status(
    script: Path,
    engine_id: str | None,
    device: str | None,
    precision: str | None,
    allow_unpinned: bool,
    seed: int | None,
    as_json: bool,
) -> int:
    """Show which lines of SCRIPT are up to date, which are stale, and why.

    Device and precision are part of every line's key: give the ones the render uses.
    """
    from refmgr.commands.render import RenderOptions, plan_render, recorded_scores
    from refmgr.project import open_project

    options = RenderOptions(
        engine_id=engine_id,
        device=device,
        precision=precision,
        seed=seed,
        allow_unpinned=allow_unpinned,
    )
    project = open_project()
    plan = plan_render(project, script, options=options)
    scores = recorded_scores(project, plan)
    if as_json:
        document = plan.to_json()
        for line, step in zip(document["lines"], plan.steps, strict=True):
            found = scores.get(step.output)
            line["quality"] = None if found is None else found.to_json()
        emit_json(document)
    else:
        _print_plan(plan, selected_only=False, scores=scores)
    return _report_refused(plan)


def _report_refused(plan: Plan) -> int:
    """Lines the plan refuses (unknown character, bad reference), printed; the exit status
    that `render status` and `render --dry-run` share: 1 if there are any."""
    refused = [Failure(s, s.error) for s in plan.steps if s.action is Action.FAILED and s.error]
    _print_failures(plan, refused)
    return 1 if refused else 0


@render.command()
@click.argument("script", type=click.Path(path_type=Path))
@click.option("--shard", required=True, callback=_shard, metavar="K/N", help="The shard to export.")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@json_option
def export(script: Path, shard: Shard, folder: Path, as_json: bool) -> int:
    """Copy shard K/N's lock and exactly the outputs it lists into FOLDER (new or empty).

    FOLDER is laid out as the repository (renders/NAME.shard-K-of-N.lock.json,
    renders/NAME/*.wav): what a CI shard job uploads, for `render merge SCRIPT FOLDER...`.
    The other shards' lines in renders/, stale where they changed, stay behind.
    """
    from refmgr.commands.render import export_json, export_shard
    from refmgr.project import open_project

    files = export_shard(open_project(), script, shard, folder)
    if as_json:
        emit_json(export_json(folder, files))
    else:
        click.echo(f"exported shard {shard}: {len(files)} files -> {display_path(folder)}/")
    return 0


@render.command()
@click.argument("script", type=click.Path(path_type=Path))
@click.argument("bundles", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@json_option
def merge(script: Path, bundles: tuple[Path, ...], as_json: bool) -> int:
    """Join the shard locks of SCRIPT into renders/NAME.lock.json.

    With BUNDLES (folders made by `render export`, one per shard: CI artifacts), each
    output is taken from the bundle whose shard lock lists it, replacing a stale copy in
    renders/. Without, the shard locks are renders/NAME.shard-K-of-N.lock.json and every
    output they list must be in renders/. Only the name of SCRIPT is used.
    """
    from refmgr.commands.render import merge_shards
    from refmgr.store import open_for_writing

    result = merge_shards(open_for_writing(), script, bundles)
    if as_json:
        emit_json(result.to_json())
    else:
        copied = f"; {len(result.copied)} outputs taken from the bundles" if bundles else ""
        click.echo(
            f"merged {len(result.shards)} shard locks -> {display_path(result.lock)} "
            f"({result.entries} lines rendered, {result.missing} missing{copied})"
        )
    if result.missing:
        click.echo(
            f"{display_path(result.lock)}: {result.missing} lines have no output "
            "(see 'missing' in the lock)",
            err=True,
        )
        return 1
    return 0


@render.command("mix")
@click.argument("script", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Audio file to write; its suffix picks the format: .wav, .flac, .ogg (Vorbis), .mp3.",
)
@gap_option
@loudness_option
@json_option
def mix_command(
    script: Path, output: Path, gap_s: float | None, loudness: Any, as_json: bool
) -> int:
    """Write every line of SCRIPT, in order, to one audio file, from its lock and outputs.

    Beside it: NAME.srt and NAME.vtt (one cue per line, "character: text", timed to the
    millisecond) and NAME.mix.json (where each line sits; the loudness target and what
    was measured).

    Opens no engine (no GPU, no model, no torch): each output is checked against the
    sha256 renders/NAME.lock.json records. For the end of a render split with --shard,
    after `render merge`.
    """
    from refmgr.commands.render import mix_script
    from refmgr.store import open_for_writing

    result = mix_script(open_for_writing(), script, output, gap_s=gap_s, loudness=loudness)
    if as_json:
        emit_json(result.to_json())
    else:
        _print_mix(result)
    return _mix_status(result)


@render.command("compare")
@click.argument("script", type=click.Path(path_type=Path))
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="[NEW]", required=False)
@click.option(
    "--old-audio",
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder of the old outputs (found by sha256, or by output name and checked "
    "against the OLD lock's sha256): for old audio the renders and the cache no longer have.",
)
@click.option(
    "--allow-unavailable",
    is_flag=True,
    help="Exit 0 even if some line's audio could not be found (it is still listed).",
)
@json_option
def compare_command(
    script: Path,
    old: str,
    new: str | None,
    old_audio: Path | None,
    allow_unavailable: bool,
    as_json: bool,
) -> int:
    """The drift report: how each line of SCRIPT moved from lock OLD to lock NEW.

    OLD and NEW are each a lock file, a git revision (the script's lock as committed
    there: HEAD~1, main, a tag) or REV:PATH (the lock at PATH, relative to the repository
    root, in REV). NEW defaults to the lock on disk. A path that exists is a file.

    For every line in both (matched by id): what changed in its inputs, the speaker
    similarity of its old and new audio, the change of each quality score and of its
    duration. Old audio comes from renders/, from .refmgr/cache/outputs (where renders
    keep what they replace), from --old-audio, or is rendered again when the old engine
    and pins are available here; each line says which. Needs refmgr[qa] for the
    similarity. Exits 1 when a line drifts past [quality.drift] or when a line's audio
    cannot be found (unless --allow-unavailable): a CI job can guard a model upgrade.
    Only the name of SCRIPT is used.
    """
    from refmgr.commands.render import compare_renders
    from refmgr.project import open_project

    report = compare_renders(open_project(), script, old, new, old_audio=old_audio)
    if as_json:
        emit_json(report.to_json())
    else:
        _print_drift(report)
    if report.drifted:
        return 1
    if report.unavailable and not allow_unavailable:
        click.echo(
            f"{len(report.unavailable)} lines could not be compared (audio unavailable): give "
            "--old-audio DIR, or pass --allow-unavailable",
            err=True,
        )
        return 1
    return 0


def _print_drift(report: DriftReport) -> None:
    click.echo(f"old: {report.old.label}")
    click.echo(f"new: {report.new.label}")
    for note in report.notes:
        click.echo(f"note: {note}")
    rows = []
    for line in report.lines:
        sim = "-" if line.similarity is None else f"{line.similarity:.2f}"
        changed = _changed_cell(line.changes)
        verdict = "DRIFT " + "; ".join(line.problems) if line.problems else "ok"
        if line.unavailable:
            verdict = "not compared" + (
                f"; DRIFT {'; '.join(line.problems)}" if line.problems else ""
            )
        rows.append(
            [
                line.id,
                line.character,
                sim,
                f"{line.duration_change:+.1%}",
                _cut(changed, 48),
                _audio_cell(line.old_audio),
                verdict,
            ]
        )
    if rows:
        headers = ["LINE", "CHARACTER", "SIM", "DUR", "CHANGED", "OLD AUDIO", "VERDICT"]
        click.echo(table(headers, rows, right=frozenset({2, 3})))
    for line in report.lines:
        for side, audio in (("old", line.old_audio), ("new", line.new_audio)):
            if not audio.found and audio.source != "same":
                click.echo(f"{line.id}: {side} audio unavailable: {audio.detail}")
            elif not audio.verified:
                click.echo(f"{line.id}: {side} audio {audio.detail}")
    for label, only in (("only in old", report.only_old), ("only in new", report.only_new)):
        if only:
            click.echo(f"{label}: " + ", ".join(f"{i} ({c})" for i, c in only))
    summaries = report.characters()
    if summaries:
        click.echo("")
        click.echo(
            table(
                ["CHARACTER", "LINES", "COMPARED", "MEDIAN", "WORST", "DRIFTED", "UNAVAILABLE"],
                [
                    [
                        c.character,
                        str(c.lines),
                        str(c.compared),
                        "-" if c.median is None else f"{c.median:.2f}",
                        "-" if c.worst is None else f"{c.worst:.2f}",
                        str(c.drifted),
                        str(c.unavailable),
                    ]
                    for c in summaries
                ],
                right=frozenset({1, 2, 3, 4, 5, 6}),
            )
        )
    limits = report.limits
    click.echo(
        f"{len(report.drifted)} of {len(report.lines)} lines drift beyond [quality.drift] "
        f"(min_similarity {limits.min_similarity:g}, max_duration_change "
        f"{limits.max_duration_change:g}); {len(report.unavailable)} not compared"
    )


def _changed_cell(changes: tuple[str, ...]) -> str:
    """What changed, short: a reference or an engine pin by name, a parameter with its values."""
    names: list[str] = []
    for change in changes:
        name = change.split(":", 1)[0]  # as lockdiff.Change.describe words it
        if name.startswith("reference."):
            change = "reference"
        elif name == "text" or len(change) > 32:
            change = name
        if change not in names:
            names.append(change)
    return ", ".join(names) or "-"


def _audio_cell(audio: Any) -> str:
    return audio.source if audio.verified else f"{audio.source} (unverified)"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@render.command("report")
@click.argument("script", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_page_name,
    metavar="FILE.html",
    help="The page to write (one HTML file; audio is linked relative to it).",
)
@click.option(
    "--embed",
    is_flag=True,
    help="Put the audio in the page itself (base64): one file to send, larger.",
)
@click.option(
    "--since",
    metavar="REV",
    help="Show what changed since the lock of this git revision (default: HEAD's, when "
    "git tracks the lock).",
)
@click.option(
    "--mix",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The mix (or its .mix.json record) whose loudness the header shows (default: the "
    "newest record of this script in renders/ or the repository's root).",
)
@click.option(
    "--compare",
    metavar="OLD",
    help="Play each line's take from OLD (a lock file, a git revision or REV:PATH, as "
    "`render compare` takes it) beside the new one, with their speaker similarity "
    "(needs refmgr[qa]).",
)
@json_option
def report_command(
    script: Path,
    output: Path,
    embed: bool,
    since: str | None,
    mix: Path | None,
    compare: str | None,
    as_json: bool,
) -> int:
    """Write a review page of SCRIPT's render: one row per line with its player, waveform
    and spectrogram, scores (failing ones marked, as the gate judges them now) and what
    changed since the previous lock; a filter for failing or changed lines; keys j / k
    (next / previous line) and space (play / pause).

    Opens no engine: everything comes from renders/NAME.lock.json and the outputs it
    records (each checked against its sha256). Needs no network to view.
    """
    from refmgr.commands.render import report_script
    from refmgr.project import open_project

    result = report_script(
        open_project(), script, output, embed=embed, since=since, mix=mix, compare=compare
    )
    if as_json:
        emit_json(result.to_json())
    else:
        c = result.counts
        click.echo(
            f"report:  {display_path(result.path)} ({c['lines']} lines: {c['rendered']} "
            f"rendered, {c['kept']} kept, {c['failed']} failed, {c['changed']} changed"
            f"{'' if result.since is None else ' since ' + result.since})"
        )
    return 0


def _mix_status(result: MixResult) -> int:
    """1 when a loudness target was asked for and the written mix misses it (a target too
    loud for its ceiling): the file is there to listen to, but is not deliverable."""
    loudness = result.loudness
    if loudness is None or loudness.met:
        return 0
    t = loudness.target
    click.echo(
        f"{display_path(result.path)}: misses the loudness target {t.name} ({t.level:g}, "
        f"{t.peak_db:g} dBTP) by more than 0.5 dB: the ceiling leaves no room for it; choose "
        "a lower level or a higher ceiling",
        err=True,
    )
    return 1


def _print_mix(result: MixResult) -> None:
    click.echo(
        f"mix:     {display_path(result.path)} ({result.lines} lines, "
        f"{result.duration_s:.1f} s, {result.format})"
    )
    if result.subtitles:
        click.echo(f"subtitles: {', '.join(display_path(p) for p in result.subtitles)}")
    loudness = result.loudness
    if loudness is not None:
        m, t = loudness.measured, loudness.target
        lufs = "n/a" if m.integrated_lufs is None else f"{m.integrated_lufs:.1f} LUFS"
        click.echo(
            f"loudness: {t.name} ({t.level:g} {'LUFS' if t.measure == 'lufs' else 'dB RMS'}, "
            f"{t.peak_db:g} dBTP): measured {lufs}, {m.rms_db:.1f} dB RMS, true peak "
            f"{m.true_peak_db:.1f} dBTP, noise floor {m.noise_floor_db:.1f} dB"
        )


class _ProgressBar:
    """click's progress bar on stderr, with an ETA; made when the first line starts."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int, step: Step | None) -> None:
        if self._bar is None:
            if total == 0:
                return
            self._bar = click.progressbar(
                length=total,
                label="rendering",
                file=sys.stderr,
                show_eta=True,
                show_pos=True,
                item_show_func=lambda s: s.line.stem if s is not None else None,
            )
            self._bar.__enter__()
        if step is not None:
            self._bar.update(1, step)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _print_failures(plan: Plan, failures: list[Failure]) -> None:
    # A refused character (or a value of refmgr.toml the engine cannot take) is one problem
    # however many lines it has: one line for it.
    refused: dict[str, list[Failure]] = {}
    for failure in failures:
        if failure.step.action is Action.FAILED:
            refused.setdefault(str(failure.error), []).append(failure)
    for group in refused.values():
        labels = ", ".join(f.step.line.label for f in group)
        click.echo(f"{group[0].error}; not rendered: {labels}", err=True)
    for failure in failures:
        if failure.step.action is Action.FAILED:
            continue
        line = failure.step.line
        where = f"{display_path(plan.script.path)}:{line.line}"
        click.echo(f"{where}: line {line.label} not rendered: {failure.error}", err=True)


def _print_warnings(plan: Plan) -> None:
    for warning in plan.warnings():  # lines over render.warn_line_chars, one each
        click.echo(f"{display_path(plan.script.path)}: warning: {warning}", err=True)


def _print_plan(
    plan: Plan, *, selected_only: bool, scores: dict[str, LineScores] | None = None
) -> None:
    steps = list(plan.selected()) if selected_only else list(plan.steps)
    rows = [[s.action.value, s.line.label, s.line.character, s.reason] for s in steps]
    headers = ["ACTION", "LINE", "CHARACTER", "WHY"]
    if scores:
        # Only with scores in the lock: a repository without refmgr[qa] sees what it always saw.
        headers.append("QUALITY")
        for row, step in zip(rows, steps, strict=True):
            row.append(_quality_cell(scores.get(step.output)))
    click.echo(table(headers, rows))
    counts = ", ".join(f"{plan.count(a)} {a.value}" for a in Action if plan.count(a))
    draft = " (draft: scratch voices, not clones)" if plan.engine.draft else ""
    click.echo(f"{display_path(plan.script.path)}: {counts}; engine {plan.engine.id}{draft}")


def _print_summary(plan: Plan, run: RunResult) -> None:
    draft = " (draft: scratch voices, not clones)" if plan.engine.draft else ""
    kept = plan.count(Action.KEEP)
    failed = len(run.failures)
    shard = f", shard {plan.shard}" if plan.shard else ""
    click.echo(
        f"{plan.script.name}: rendered {len(run.rendered)}, reused {len(run.reused)}, "
        f"kept {kept}, failed {failed} of {len(plan.steps)} lines{shard} "
        f"in {run.seconds:.1f} s, engine {plan.engine.id}{draft}"
    )
    if run.removed:
        count = len(run.removed)
        click.echo(f"removed {count} output{'s' if count != 1 else ''} no line makes any more")
    if run.lock is not None:
        outputs = run.lock.parent / plan.script.name
        click.echo(f"outputs: {display_path(outputs)}/")
        click.echo(f"lock:    {display_path(run.lock)}")


def _quality_cell(scores: LineScores | None) -> str:
    from refmgr.render.gate import summary

    if scores is None:
        return "-"
    verdict = f"FAIL {scores.problems[0]}" if scores.problems else "ok"
    take = f" (take {scores.take[0]})" if scores.take else ""
    return f"{verdict}{take}: {summary(scores.quality.scores)}"


def _print_gate(result: RenderResult) -> None:
    """One line per problem: ``script.txt:12: alpha: speaker similarity 0.61 < 0.75 ...``."""
    for failure in result.gate_failures:
        where = f"{display_path(result.plan.script.path)}:{failure.step.line.line}"
        for problem in failure.problems:
            click.echo(f"{where}: {failure.step.line.character}: {problem}", err=True)


def _print_quality_summary(result: RenderResult) -> None:
    run = result.run
    if not result.scored:
        if run.quality:
            click.echo("quality: not scored now (refmgr[qa] is not installed or scoring is off)")
        return
    retaken = [f for f in run.rendered if len(_tried(result, f)) > 1]
    passed = sum(1 for step in retaken if step.output not in _failing(result))
    failed = len(result.gate_failures)
    if not (result.gated or failed or retaken):
        return  # nothing to say: the scores are in the lock, `render status` shows them
    lines = len(run.quality)
    text = f"quality: {lines - failed} of {lines} lines pass [quality.render]"
    text += f"; scored {run.scored} outputs"
    if retaken:
        text += f"; {len(retaken)} retaken ({passed} now pass)"
    if failed:
        text += "; the render fails" if result.gated else " (gate off: reported, not failed)"
    click.echo(text)


def _tried(result: RenderResult, step: Step) -> tuple[Any, ...]:
    quality = result.run.quality.get(step.output)
    return () if quality is None else quality.takes


def _failing(result: RenderResult) -> set[str]:
    return {f.step.output for f in result.gate_failures}
