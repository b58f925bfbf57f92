"""The cast of a script: each character resolved to a verified reference.

A character whose reference cannot be used (its tokens fail their checksum, its manifest
is invalid, the engine cannot clone from its codec) is *refused*: its lines fail, every
other line still renders. A character with no reference at all is a script error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from refmgr import gitrepo
from refmgr.backends.base import EngineSpec, VoiceReference
from refmgr.backends.registry import codec_spec
from refmgr.errors import BackendError, GitError, RefmgrError
from refmgr.project import Project
from refmgr.reference import Reference, known_names, reference_from_manifest, voice_reference
from refmgr.render.script import Script, ScriptLine, raise_all
from refmgr.store import locked


@dataclass(frozen=True)
class Member:
    reference: Reference
    voice: VoiceReference

    def key_inputs(self) -> dict[str, Any]:
        """What of the reference can change the sound: part of every line's cache key.

        The name is not: two names for the same tokens sound the same. The transcript goes
        in as its hash, to keep locks small.
        """
        data = self.reference.manifest.data
        return {
            "codec": data["codec"],  # id, library version, checkpoint hashes
            "tokens_sha256": self.voice.tokens_sha256,
            "transcript_sha256": hashlib.sha256(self.voice.transcript.encode()).hexdigest(),
            "language": self.voice.language,
            "voice": data["voice"],
        }


@dataclass(frozen=True)
class Cast:
    members: dict[str, Member]
    refused: dict[str, RefmgrError]  # character -> why its lines cannot be rendered


def cast_script(
    project: Project, script: Script, engine: EngineSpec, *, require_committed: bool
) -> Cast:
    known = set(known_names(project))
    first_lines: dict[str, ScriptLine] = {}
    for line in script.lines:
        first_lines.setdefault(line.character, line)
    listed = ", ".join(sorted(known)) or "none yet; add one with: refmgr add"
    raise_all(
        [
            script.error(line, f"unknown character '{character}' (known: {listed})")
            for character, line in first_lines.items()
            if character not in known
        ]
    )
    members: dict[str, Member] = {}
    refused: dict[str, RefmgrError] = {}
    # Under the repository lock: an `add --force` running beside us cannot hand us a
    # manifest and token file from two different versions.
    with locked(project):
        for character in first_lines:
            try:
                members[character] = _member(project, character, engine)
            except RefmgrError as e:
                refused[character] = e
    if require_committed:
        _check_committed(project, members)
    return Cast(members=members, refused=refused)


def _member(project: Project, name: str, engine: EngineSpec) -> Member:
    reference = reference_from_manifest(project, project.manifest_path(name))
    manifest = reference.manifest
    family = codec_spec(manifest.codec_id).family
    if engine.codec_families is not None and family not in engine.codec_families:
        raise BackendError(
            f"engine '{engine.id}' cannot clone from {manifest.codec_id} tokens "
            f"(it takes codec families: {', '.join(sorted(engine.codec_families))}); "
            "re-add the reference with a codec it takes, or render with another --engine",
            reference.manifest_path,
        )
    # voice_reference verifies the token file: size, dtype, shape, sha256, ranges.
    return Member(reference=reference, voice=voice_reference(project, reference))


def _check_committed(project: Project, members: dict[str, Member]) -> None:
    """Refuse references whose files are not committed as they are on disk.

    No commit id is kept: the lock records what decides the sound (Member.key_inputs),
    which an amend or a rebase does not change, so a lock committed once stays final."""
    files = [
        p for m in members.values() for p in (m.reference.manifest_path, m.reference.tokens_path)
    ]
    try:
        dirty = gitrepo.commit_state(project.root, {"references": files}).uncommitted
    except GitError:
        raise GitError(
            "not a git repository: --require-committed needs the references in git",
            project.root,
        ) from None
    if dirty:
        more = f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
        raise GitError(
            f"not committed{more}: --require-committed (on by default when CI is set) renders "
            "only committed references; commit them, or pass --no-require-committed",
            sorted(dirty)[0],
        )
