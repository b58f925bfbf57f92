"""Options shared by several commands, defined once so that they read and check alike."""

from __future__ import annotations

import click

from refmgr.config import DEVICES, PRECISIONS

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
