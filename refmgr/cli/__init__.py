"""The ``refmgr`` command: argument parsing, output, and exit codes. No logic of its own.

Exit codes: 0 ok; 1 a problem with the user's input or data (``path: problem`` on
stderr); 2 bad usage; 130 interrupted; 3 a bug in refmgr (one line on stderr, the
traceback in the log file, or on stderr with --debug).
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Before numpy loads: OpenBLAS starts a thread per core at import, which costs more start-up
# time (~60 ms on 2 busy cores) than all the small-array work refmgr does with it. A value
# the user set is kept; torch (Fish Speech) sizes its own thread pool.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click

from refmgr import __version__
from refmgr.errors import RefmgrError, UsageError
from refmgr.paths import log_path

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# name -> "module:function": one module per command (or group), as in refmgr.commands.
# Modules load only when their command runs, so that a fast command (validate, run by the
# commit hook) pays for nothing it does not use.
COMMANDS: dict[str, str] = {
    "init": "refmgr.cli.init:init",
    "add": "refmgr.cli.add:add",
    "ls": "refmgr.cli.ls:ls",
    "show": "refmgr.cli.ls:show",
    "rm": "refmgr.cli.rm:rm",
    "decode": "refmgr.cli.decode:decode",
    "validate": "refmgr.cli.validate:validate",
    "no-raw-audio": "refmgr.cli.no_raw_audio:no_raw_audio",
    "status": "refmgr.cli.status:status",
    "recover": "refmgr.cli.recover:recover",
    "pin": "refmgr.cli.pin:pin",
    "hooks": "refmgr.cli.hooks:hooks",
    "textconv": "refmgr.cli.textconv:textconv",
    "render": "refmgr.cli.render:render",
    "model": "refmgr.cli.model:model",
    "lexicon": "refmgr.cli.lexicon:lexicon",
    "say": "refmgr.cli.say:say",
    "lint": "refmgr.cli.lint:lint",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Each command's first sentence, whole (wrapped), rather than cut at the width.
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="refmgr")
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if refmgr was started in this directory.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(directory: Path | None, debug: bool) -> None:
    """Keep voice references for text-to-speech in git as compact codec tokens."""
    if directory is not None:
        try:
            os.chdir(directory)
        except OSError as e:
            raise RefmgrError(f"cannot change to this directory: {e.strerror}", directory) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    options = args[: args.index("--")] if "--" in args else args  # after --: operands only
    debug = "--debug" in options or os.environ.get("REFMGR_DEBUG") == "1"
    as_json = "--json" in options
    _show_progress(not as_json and sys.stderr.isatty())
    try:
        result: Any = cli.main(args=args, prog_name="refmgr", standalone_mode=False)
    except click.exceptions.Abort:
        return _fail(EXIT_INTERRUPTED, "refmgr: interrupted", as_json)
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "\nrefmgr: interrupted", as_json)
    except click.ClickException as e:
        if as_json:
            _emit_error(e.format_message(), e.exit_code)
        e.show()
        return e.exit_code
    except RefmgrError as e:
        if debug:
            traceback.print_exc()
        code = EXIT_USAGE if isinstance(e, UsageError) else EXIT_PROBLEM
        return _fail(code, str(e), as_json, e.path, e.message)
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        sys.stderr.close()
        return EXIT_PROBLEM
    except Exception as e:
        return _report_bug(e, debug, as_json)
    return result if isinstance(result, int) else EXIT_OK


def _show_progress(on: bool) -> None:
    """Long steps (hashing checkpoints, loading a model, speaking) log what they are doing
    at INFO to the ``refmgr`` logger: shown on a terminal, never with --json or into a pipe
    (where nothing is configured and Python drops INFO records)."""
    if not on:
        return
    import logging

    logger = logging.getLogger("refmgr")
    logger.handlers = [logging.StreamHandler(sys.stderr)]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _fail(
    code: int,
    line: str,
    as_json: bool,
    path: Path | None = None,
    message: str | None = None,
) -> int:
    """Report a failure: one line on stderr, and with --json one document on stdout."""
    click.echo(line, err=True)
    if as_json:
        _emit_error(line.strip() if message is None else message, code, path)
    return code


def _emit_error(message: str, code: int, path: Path | None = None) -> None:
    from refmgr.cli.output import emit_json
    from refmgr.project import repo_relative

    document: dict[str, Any] = {"error": message, "exit_code": code}
    if path is not None:
        document["path"] = repo_relative(path)
    emit_json(document)


def _report_bug(error: Exception, debug: bool, as_json: bool = False) -> int:
    if debug:
        traceback.print_exc()
        return EXIT_BUG
    from refmgr.fsutil import atomic_write

    where = log_path()
    # The last crash only (as pre-commit keeps it), with what a bug report needs.
    report = (
        f"refmgr {__version__}: {' '.join(sys.argv)}\n"
        f"python {platform.python_version()} ({sys.executable}), {platform.platform()}\n\n"
        + "".join(traceback.format_exception(error))
    )
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(where, report.encode("utf-8"))
        saved = f"; traceback saved to {where}"
    except OSError:
        saved = "; rerun with --debug for the traceback"
    return _fail(
        EXIT_BUG,
        f"refmgr: internal error ({type(error).__name__}: {error}){saved}. "
        "This is a bug in refmgr; please report it.",
        as_json,
    )
