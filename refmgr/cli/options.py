"""Options shared by several commands, defined once so that they read and check alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from refmgr.config import DEVICES, PRECISIONS
from refmgr.params import PARAM_TYPES, param_problem

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
device_option = click.option(
    "--device",
    type=click.Choice(DEVICES),
    help="Where a model with weights runs (default: models.NAME.device in refmgr.toml, auto: "
    "cuda, then mps, then cpu).",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    help="Model precision (default: models.NAME.precision in refmgr.toml, auto: bf16 on CUDA, "
    "else fp32).",
)
unpinned_option = click.option(
    "--allow-unpinned",
    is_flag=True,
    help="Use checkpoint files that differ from the pins in refmgr.toml (recorded in outputs).",
)
stage_option = click.option("--stage", is_flag=True, help="Stage the changed files in git.")
# The commit hooks' (validate, no-raw-audio): what pre-commit passes them.
staged_option = click.option(
    "--staged", is_flag=True, help="Check the git index (what is about to be committed)."
)
root_option = click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The voice repository (default: found from the working directory). PATHS stay "
    "relative to the working directory, as pre-commit passes them.",
)


F = TypeVar("F", bound=Callable[..., Any])


def param_option(name: str, help: str) -> Callable[[F], F]:
    """``--NAME`` for the synthesis parameter ``name``, checked as a script line's is:
    a value out of range is a usage error (exit 2) before anything loads."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        problem = None if value is None else param_problem(name, value)
        if problem is not None:
            raise click.BadParameter(problem)
        return value

    return click.option(
        f"--{name.replace('_', '-')}", type=PARAM_TYPES[name], callback=check, help=help
    )
