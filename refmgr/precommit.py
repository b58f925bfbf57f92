"""The hooks refmgr publishes for the pre-commit framework, defined once.

``.pre-commit-hooks.yaml`` (what a ``repo:`` pointing at refmgr installs), the
``.pre-commit-config.yaml`` that ``refmgr init`` writes, and the README's hook list all
describe these; tests/integration/test_hooks_sync.py keeps them equal.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from refmgr.config import CONFIG_FILE, Config
from refmgr.deliver.lexicon import LEXICON_FILE

CONFIG_NAME = ".pre-commit-config.yaml"


@dataclass(frozen=True)
class HookDef:
    id: str
    name: str
    description: str
    args: tuple[str, ...]  # the refmgr command line, after "refmgr"
    scoped: bool  # files: only the voice repository's refs, manifests and refmgr.toml
    require_serial: bool  # one process sees every file (pairs, one config read)
    # Run even when no file matches (a commit that only deletes a token file leaves its
    # manifest behind; pre-commit never passes deleted files): then the whole index is checked.
    always_run: bool
    symlinks: bool  # also pass symlinks, which pre-commit's default `types: [file]` leaves out

    @property
    def entry(self) -> str:
        return self.command()

    def command(self, root: str = "") -> str:
        """The hook's command line; ``root``: the voice repository's directory, if not the
        top of the git work tree. pre-commit appends file names to it, and a staged file
        named ``--help`` must stay a file name: so the line ends with ``--``, and options go
        before it (pre-commit's ``args:`` would land after the ``--``)."""
        where = ("--root", root) if root else ()
        return shlex.join(("refmgr", *self.args, *where, "--"))


HOOKS = (
    HookDef(
        id="refmgr-validate",
        name="refmgr validate",
        description=(
            "Check staged manifests and token files: schema, pairs, sizes, sha256, npy "
            "headers, code ranges, pins; and lexicon.toml."
        ),
        args=("validate", "--staged"),
        scoped=True,
        require_serial=True,
        always_run=True,
        symlinks=True,
    ),
    HookDef(
        id="refmgr-no-raw-audio",
        name="refmgr no raw audio",
        description=(
            "Block recordings outside refmgr.toml's [hooks] allow_audio, and oversized "
            "files under refs/."
        ),
        args=("no-raw-audio",),
        scoped=False,
        require_serial=False,
        always_run=False,
        symlinks=False,
    ),
)


def files_pattern(config: Config, prefix: str = "") -> str:
    """The ``files:`` regex of a scoped hook; ``prefix`` is the voice repository's
    directory inside the git repository ('' at the top, else 'dir/')."""
    dirs = "|".join(re.escape(d + "/") for d in (config.paths.refs, config.paths.manifests))
    files = "|".join(re.escape(f) + "$" for f in (CONFIG_FILE, LEXICON_FILE))
    return f"^{re.escape(prefix)}({dirs}|{files})"


def local_config(config: Config, prefix: str = "") -> str:
    """The .pre-commit-config.yaml that ``refmgr init`` writes. In a voice repository below
    the top of its git work tree (``prefix``), use it with ``pre-commit install -c``."""
    lines = [
        "# Commit hooks for this voice repository (https://pre-commit.com):",
        "#   pip install pre-commit && pre-commit install",
        "# They run the refmgr on your PATH: the one that encodes your references.",
        "repos:",
        "  - repo: local",
        "    hooks:",
    ]
    for hook in HOOKS:
        # pre-commit runs hooks at the top of the git work tree: name the voice repository.
        entry = hook.command(prefix.rstrip("/"))
        lines += [
            f"      - id: {hook.id}",
            f"        name: {hook.name}",
            f"        entry: {entry if entry == hook.entry else _quote(entry)}",
            "        language: system",
        ]
        if hook.scoped:
            lines.append(f"        files: {_quote(files_pattern(config, prefix))}")
        if hook.symlinks:
            lines += ["        types: []", "        types_or: [file, symlink]"]
        if hook.always_run:
            lines.append("        always_run: true")
        if hook.require_serial:
            lines.append("        require_serial: true")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    # YAML single quotes: backslashes are literal, a quote is doubled.
    return "'" + text.replace("'", "''") + "'"
