"""Bad input: one line naming the file and the problem, exit 1, nothing half-written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest

from refmgr.backends import registry
from refmgr.backends.base import ParamRules
from refmgr.commands.render import RenderOptions, plan_render, render_script
from refmgr.errors import RefmgrError
from refmgr.project import open_project
from refmgr.render.plan import Action
from tests.support.cli import run_cli
from tests.support.helpers import one_line_error, snapshot
from tests.support.render import check_lock, outputs, read_lock, render, rendered


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            b"alpha: fine\nbeta: caf\xe9 au lait\n",
            "ep.txt:2:10: not UTF-8 text (invalid byte 0xe9)",
        ),
        (b"alpha: fine\n\njust some words\n", "ep.txt:3:1: expected 'NAME: text'"),
        (
            b"alpha: fine\n  gamma: who?\n",
            "ep.txt:2:3: unknown character 'gamma' (known: alpha, beta)",
        ),
        (b"alpha: fine\nbeta:   \n", "ep.txt:2:5: empty text after 'beta:'"),
        (
            b"[a1] alpha: one\n[b] beta: two\n[A1] beta: three\n",
            "ep.txt:3:2: duplicate line id 'A1' (first used on line 1)",
        ),
        (b"alpha {seed=x}: hi\n", "ep.txt:1:8: seed must be an integer, not 'x'"),
        (
            b"alpha {pitch=3}: hi\n",
            "ep.txt:1:8: unknown override 'pitch' (known: seed, temperature",
        ),
        (b"# only comments\n\n", "ep.txt: script has no lines to render"),
        (
            b"[x-alpha] beta: one\n[X] Alpha-beta: two\n",
            "ep.txt:2:2: output name 'X-alpha-beta' is also that of line 1",
        ),
    ],
    ids=[
        "not-utf8",
        "no-name",
        "unknown-character",
        "empty-text",
        "duplicate-id",
        "bad-seed",
        "unknown-override",
        "no-lines",
        "same-output",
    ],
)
def test_script_errors(cast_repo: Path, script: bytes, expected: str) -> None:
    (cast_repo / "ep.txt").write_bytes(script)
    before = snapshot(cast_repo)
    proc = run_cli("render", "ep.txt")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, expected), proc.stderr
    after = snapshot(cast_repo)
    # The render's lock file in the git-ignored local state folder is all that may appear.
    after.pop(".refmgr/render-ep.lock", None)
    assert after == before


def test_missing_script_and_bad_options(cast_repo: Path) -> None:
    proc = run_cli("render", "nope.txt")
    assert proc.returncode == 1 and one_line_error(proc.stderr, "nope.txt: no such script")
    proc = run_cli("render", "ep.txt", "--only", "zzz")
    assert proc.returncode == 1 and one_line_error(proc.stderr, "ep.txt: --only zzz: no such line")
    proc = run_cli("render", "ep.txt", "--shard", "4/3")
    assert proc.returncode == 2 and "K/N with 1 <= K <= N" in proc.stderr
    proc = run_cli("render", "ep.txt", "--shard", "1/2", "--mix", "x.wav")
    assert proc.returncode == 1 and one_line_error(proc.stderr, "--mix needs every line")
    proc = run_cli("render", "ep.txt", "--engine", "nope")
    assert proc.returncode == 2 and "'draft'" in proc.stderr
    proc = run_cli("render", "ep.txt", "--device", "cuda")
    assert proc.returncode == 1 and one_line_error(
        proc.stderr, "engine 'draft' runs on the CPU only"
    )
    assert not (cast_repo / "renders").exists()


def test_tokens_failing_their_checksum_refuse_that_character_only(cast_repo: Path) -> None:
    tokens = cast_repo / "refs" / "beta.npy"
    data = bytearray(tokens.read_bytes())
    data[-1] ^= 0x01  # one flipped bit in the codes: same size, same header
    tokens.write_bytes(bytes(data))
    proc = run_cli("render", "ep.txt")
    assert proc.returncode == 1
    assert one_line_error(
        proc.stderr,
        "refs/beta.npy: sha256",
        "does not match the manifest",
        "not rendered: ask, 0004",
    ), proc.stderr
    assert sorted(outputs(cast_repo)) == ["0001-alpha.wav", "0003-alpha.wav", "end-alpha.wav"]
    lock = check_lock(cast_repo)
    assert [m["id"] for m in lock["missing"]] == ["ask", "0004"]
    assert sorted(lock["references"]) == ["alpha"]
    assert "ep: rendered 3, reused 0, kept 0, failed 2 of 5 lines" in proc.stdout


def test_engine_that_cannot_use_the_references_codec(
    cast_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An engine that clones only from Fish Speech S1 tokens, as the fish-s1 engine will.
    fish_like = dataclasses.replace(
        registry.ENGINES["draft"],
        id="fish-like",
        codec_families=frozenset({"fish-s1"}),
        draft=False,
    )
    monkeypatch.setitem(registry.ENGINES, "fish-like", fish_like)
    # No voice of the script can be cloned: refused before the engine (and its checkpoint)
    # is opened, with one line per voice, and nothing is written.
    with pytest.raises(RefmgrError) as refused:
        render(cast_repo, engine_id="fish-like")
    assert str(refused.value).splitlines() == [
        f"manifests/{name}.json: engine 'fish-like' cannot clone from codec2-3200 tokens "
        "(it takes codec families: fish-s1); re-add the reference with a codec it takes, "
        "or render with another --engine"
        for name in ("alpha", "beta")
    ]
    assert not (cast_repo / "renders").exists()


def test_an_engine_failure_fails_its_line_only(
    cast_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from refmgr.backends import draft
    from refmgr.backends.espeak import Voice

    real = draft.speak

    def speak(text: str, voice: Voice) -> object:
        if "ship" in text:
            raise RefmgrError("eSpeak NG failed: simulated")
        return real(text, voice)

    monkeypatch.setattr(draft, "speak", speak)
    result = render(cast_repo)
    assert [f.step.line.label for f in result.run.failures] == ["ask"]
    assert [s.line.label for s in result.run.rendered] == ["0001", "0003", "0004", "end"]
    assert [m["id"] for m in check_lock(cast_repo)["missing"]] == ["ask"]


def test_require_committed(cast_repo: Path) -> None:
    manifest = cast_repo / "manifests" / "alpha.json"
    manifest.write_text(manifest.read_text().replace('"language": "en"', '"language": "en-US"'))
    proc = run_cli("render", "ep.txt", "--require-committed")
    assert proc.returncode == 1
    assert one_line_error(
        proc.stderr, "manifests/alpha.json: not committed: --require-committed"
    ), proc.stderr
    proc = run_cli("render", "ep.txt", env={"CI": "true"})  # on by default in CI
    assert proc.returncode == 1 and "not committed" in proc.stderr
    assert not (cast_repo / "renders").exists()
    proc = run_cli("render", "ep.txt", "--no-require-committed", env={"CI": "true"})
    assert proc.returncode == 0, proc.stderr
    assert read_lock(cast_repo)["references"]["alpha"]["inputs"]["language"] == "en-US"


@pytest.mark.parametrize("gap", ["1e12", "1e300", "61"])
def test_gaps_too_long_to_be_pauses(cast_repo: Path, gap: str) -> None:
    proc = run_cli("render", "ep.txt", "--mix", "scene.wav", "--gap", gap)
    assert proc.returncode == 2 and "0<=x<=60" in proc.stderr, proc.stderr
    # The Python API, for callers that bypass the command line.
    result = render_script(
        open_project(cast_repo), cast_repo / "ep.txt", mix=cast_repo / "s.wav", gap_s=float(gap)
    )
    assert not result.ok and result.mix_error is not None
    assert str(result.mix_error) == f"the gap must be between 0 and 60 seconds, not {float(gap)}"
    assert not (cast_repo / "s.wav").exists()
    config = cast_repo / "refmgr.toml"
    config.write_text(config.read_text().replace("gap_s = 0.5", f"gap_s = {gap}"))
    before = snapshot(cast_repo)
    proc = run_cli("render", "ep.txt", "--mix", "scene.wav")
    assert proc.returncode == 1
    assert one_line_error(
        proc.stderr, f"refmgr.toml: render.gap_s must be between 0 and 60 seconds, not {float(gap)}"
    ), proc.stderr
    assert snapshot(cast_repo) == before


def test_parameters_the_engine_cannot_take_refuse_their_lines_before_rendering(
    cast_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An engine with rules of its own, as the fish engines have (temperature under 1 here).
    strict = dataclasses.replace(
        registry.ENGINES["draft"], id="strict", params=ParamRules(temperature_below=1.0)
    )
    monkeypatch.setitem(registry.ENGINES, "strict", strict)
    script = cast_repo / "ep.txt"
    script.write_text(script.read_text().replace("{seed=7}", "{seed=7, temperature=1.5}"))
    plan = plan_render(open_project(cast_repo), script, options=RenderOptions(engine_id="strict"))
    failed = [s for s in plan.steps if s.action is Action.FAILED]
    assert [(s.line.label, s.reason) for s in failed] == [
        ("0003", "ep.txt:4:16: temperature must be below 1 with the strict engine, not 1.5")
    ]
    before = snapshot(cast_repo)
    result = render(cast_repo, engine_id="strict")
    assert [f.step.line.label for f in result.run.failures] == ["0003"]
    assert rendered(result) == ["0001", "ask", "0004", "end"]
    assert [m["id"] for m in check_lock(cast_repo)["missing"]] == ["0003"]
    assert before != snapshot(cast_repo)

    # A value from refmgr.toml: every line is refused, pointing at refmgr.toml.
    script.write_text(script.read_text().replace(", temperature=1.5", ""))
    config = cast_repo / "refmgr.toml"
    config.write_text(config.read_text().replace("temperature = 0.7", "temperature = 1.5"))
    result = render(cast_repo, engine_id="strict", force=True)
    assert result.run.rendered == [] and len(result.run.failures) == 5
    assert {str(f.error) for f in result.run.failures} == {
        "refmgr.toml: render.temperature must be below 1 with the strict engine, not 1.5"
    }
    assert render(cast_repo).ok  # the draft engine takes it


def test_status_shows_lines_with_parameters_the_engine_cannot_take(
    cast_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from refmgr.cli import main
    from refmgr.cli.render import status

    strict = dataclasses.replace(
        registry.ENGINES["draft"], id="strict", params=ParamRules(repetition_penalty_below=1.5)
    )
    monkeypatch.setitem(registry.ENGINES, "strict", strict)
    engine_param = next(p for p in status.params if p.name == "engine_id")
    monkeypatch.setattr(engine_param, "type", click.Choice(sorted(registry.ENGINES)))
    script = cast_repo / "ep.txt"
    script.write_text(
        script.read_text().replace("[ask] beta:", "[ask] beta {repetition_penalty=2}:")
    )
    assert main(["render", "status", "ep.txt", "--engine", "strict"]) == 1
    out, err = capsys.readouterr()
    assert "failed  ask   beta       ep.txt:3:13: repetition_penalty must be below 1.5" in out
    assert err == (
        "ep.txt:3:13: repetition_penalty must be below 1.5 with the strict engine, not 2.0; "
        "not rendered: ask\n"
    )
