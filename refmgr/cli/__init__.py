"""The ``refmgr`` command: argument parsing, output, and exit codes. No logic of its own.

Exit codes: 0 ok; 1 a problem with the user's input or data (``path: problem`` on
stderr); 2 bad usage; 130 interrupted; 3 a bug in refmgr (one line on stderr, the
traceback in the log file, or on stderr with --debug).
"""

from __future__ import annotations

import importlib
import os
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
from refmgr.errors import RefmgrError
from refmgr.paths import log_path

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# name -> "module:function". Modules load only when their command runs, so that a fast
# command (validate, run by the commit hook) pays for nothing it does not use.
COMMANDS: dict[str, str] = {
    "init": "refmgr.cli.refs:init",
    "add": "refmgr.cli.refs:add",
    "ls": "refmgr.cli.refs:ls",
    "show": "refmgr.cli.refs:show",
    "rm": "refmgr.cli.refs:rm",
    "decode": "refmgr.cli.refs:decode",
    "validate": "refmgr.cli.checks:validate",
    "no-raw-audio": "refmgr.cli.checks:no_raw_audio",
    "status": "refmgr.cli.checks:status",
    "recover": "refmgr.cli.checks:recover",
    "pin": "refmgr.cli.checks:pin",
    "hooks": "refmgr.cli.integration:hooks",
    "textconv": "refmgr.cli.integration:textconv",
    "render": "refmgr.cli.render:render",
    "model": "refmgr.cli.model:model",
    "say": "refmgr.cli.say:say",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

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
    debug = "--debug" in args or os.environ.get("REFMGR_DEBUG") == "1"
    try:
        result: Any = cli.main(args=args, prog_name="refmgr", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("refmgr: interrupted", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("\nrefmgr: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except RefmgrError as e:
        if debug:
            traceback.print_exc()
        click.echo(str(e), err=True)
        return EXIT_PROBLEM
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        sys.stderr.close()
        return EXIT_PROBLEM
    except Exception as e:
        return _report_bug(e, debug)
    return result if isinstance(result, int) else EXIT_OK


def _report_bug(error: Exception, debug: bool) -> int:
    if debug:
        traceback.print_exc()
        return EXIT_BUG
    where = log_path()
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        with open(where, "a", encoding="utf-8") as log:
            log.write(f"refmgr {__version__}: {' '.join(sys.argv)}\n")
            log.write("".join(traceback.format_exception(error)) + "\n")
        saved = f"; traceback saved to {where}"
    except OSError:
        saved = "; rerun with --debug for the traceback"
    click.echo(
        f"refmgr: internal error ({type(error).__name__}: {error}){saved}. "
        "This is a bug in refmgr; please report it.",
        err=True,
    )
    return EXIT_BUG
