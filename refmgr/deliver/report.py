"""The review page of a render: one static HTML file, one row per script line.

Pure: a ``ReportPage`` (made from the lock by commands/report.py) in, an HTML string out.
No server and no network: the styles and the script are inline, audio is linked relative
to the page (or embedded as data URIs), pictures are data URIs decoded only when their row
nears the screen, and audio elements load nothing until played (preload="none"), so a
page of 2,000 lines opens at once.

Everything from the script and the lock is untrusted text: it is escaped, and the page's
Content-Security-Policy allows only its own inline script and style (by hash), so markup
that slipped through could still not run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import importlib.resources
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from refmgr.deliver.lockdiff import Change

# Score order on the page: the gate's main measures first (render/gate.py), then the rest.
SCORE_ORDER = (
    "similarity",
    "margin",
    "nearest",
    "nearest_similarity",
    "dnsmos_ovrl",
    "dnsmos_sig",
    "dnsmos_bak",
    "lufs",
    "true_peak_db",
    "clipped_ratio",
    "lead_silence_s",
    "trail_silence_s",
    "duration_ratio",
)


@dataclass(frozen=True)
class Comparison:
    """The old take of a line beside the new one (A/B): for ``render compare``."""

    old_audio: str  # a URL relative to the page, or a data: URI
    similarity: float | None = None  # speaker similarity of old and new
    source: str = ""  # where the old audio came from: "render cache", "path", "re-rendered"


@dataclass(frozen=True)
class LineRow:
    index: int  # the line's number among the script's lines, from 1
    id: str
    character: str
    text: str
    audio: str | None  # a URL relative to the page or a data: URI; None: no output
    duration_s: float | None = None
    take: int = 1
    seed: int | None = None
    picture: str | None = None  # a data: URI
    scores: Mapping[str, Any] = field(default_factory=dict)
    # What of the gate the scores fail: (measure, phrase), as render/gate.py judges.
    problems: tuple[tuple[str, str], ...] = ()
    changes: tuple[Change, ...] = ()
    note: str = ""  # what is wrong with the output itself ("not rendered", ...)
    comparison: Comparison | None = None

    @property
    def failing(self) -> bool:
        return bool(self.problems) or self.audio is None or bool(self.note)


@dataclass(frozen=True)
class Provenance:
    script: str  # the script's path as the lock records it
    lock: str  # the lock's path, relative to the repository
    engine: str
    draft: bool
    pins: Mapping[str, Any]
    commit: str | None = None  # the last commit that changed the lock
    committed: bool | None = None  # the lock on disk is as committed; None: not in git
    since: str | None = None  # what the changes are against ("HEAD", a revision), if any
    since_problem: str = ""  # why there is nothing to compare with, when there is not
    mix: str = ""  # the mix and its loudness, from its record; "" without one


@dataclass(frozen=True)
class ReportPage:
    provenance: Provenance
    rows: Sequence[LineRow]
    scored: bool = False  # some line has scores

    def counts(self) -> dict[str, int]:
        rendered = sum(1 for r in self.rows if r.audio is not None)
        failed = sum(1 for r in self.rows if r.failing)
        return {
            "lines": len(self.rows),
            "rendered": rendered,
            "kept": sum(1 for r in self.rows if r.audio is not None and not r.failing),
            "failed": failed,
            "changed": sum(1 for r in self.rows if r.changes),
        }

    def duration_s(self) -> float:
        return sum(r.duration_s or 0.0 for r in self.rows)


def _asset(name: str) -> str:
    return _assets()[name]


@functools.cache
def _assets() -> dict[str, str]:
    folder = importlib.resources.files("refmgr.deliver")
    return {n: folder.joinpath(n).read_text("utf-8") for n in ("report.css", "report.js")}


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def page_html(page: ReportPage) -> str:
    css, js = _asset("report.css"), _asset("report.js")
    policy = (
        "default-src 'none'; "
        f"script-src {_csp_hash(js)}; style-src {_csp_hash(css)}; "
        "img-src data:; media-src 'self' file: data:; form-action 'none'; base-uri 'none'"
    )
    prov = page.provenance
    counts = page.counts()
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(policy)}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="generator" content="refmgr render report">\n',
        f"<title>{_e(prov.script)}: refmgr review</title>\n<style>{css}</style>\n</head>\n<body>\n",
        _header(page, counts),
        _filters(counts),
        _table(page.rows),
        f"<script>{js}</script>\n</body>\n</html>\n",
    ]
    return "".join(parts)


def _header(page: ReportPage, counts: Mapping[str, int]) -> str:
    prov = page.provenance
    engine = _e(prov.engine) + (" (draft: scratch voices, not clones)" if prov.draft else "")
    pins = ", ".join(f"{_e(k)} {_e(_pin(v))}" for k, v in sorted(prov.pins.items())) or "none"
    if prov.committed is None:
        commit = "not in a git repository"
    elif prov.commit is None:
        commit = "not committed"
    else:
        commit = f"<code>{_e(prov.commit[:12])}</code>"
        commit += "" if prov.committed else " (changed since that commit)"
    if prov.since:
        since = f"since <code>{_e(prov.since)}</code>"
    else:
        since = f'<span class="muted">{_e(prov.since_problem or "no previous lock")}</span>'
    minutes, seconds = divmod(page.duration_s(), 60)
    failed = counts["failed"]
    rows = [
        ("script", f"<code>{_e(prov.script)}</code>"),
        ("lock", f"<code>{_e(prov.lock)}</code>, commit {commit}"),
        ("engine", engine),
        ("pins", pins),
        ("duration", f"{int(minutes)}:{seconds:06.3f} ({page.duration_s():.3f} s)"),
        ("changes", since),
        ("mix", _e(prov.mix) if prov.mix else '<span class="muted">no mix record</span>'),
        ("scores", "" if page.scored else '<span class="muted">none (refmgr[qa] not used)</span>'),
    ]
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows if v)
    return (
        f"<header>\n<h1>{_e(prov.script)}</h1>\n"
        f'<p class="counts" id="counts"><span>{counts["lines"]} lines</span>'
        f'<span id="n-rendered">{counts["rendered"]} rendered</span>'
        f'<span id="n-kept">{counts["kept"]} kept</span>'
        f'<span id="n-failed"{" class=bad" if failed else ""}>{failed} failed</span>'
        f'<span id="n-changed">{counts["changed"]} changed</span></p>\n'
        f"<dl>{items}</dl>\n</header>\n"
    )


def _pin(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:12] + "..."


def _filters(counts: Mapping[str, int]) -> str:
    options = [("all", "all", counts["lines"]), ("failing", "failing", counts["failed"])]
    options.append(("changed", "changed", counts["changed"]))
    radios = "".join(
        f'<label><input type="radio" name="filter" value="{v}"{" checked" if v == "all" else ""}>'
        f" {label} ({n})</label>"
        for v, label, n in options
    )
    return (
        f'<nav aria-label="filter">{radios} showing <span id="shown">{counts["lines"]}</span>'
        '<span class="keys">j / &darr; next, k / &uarr; previous, space: play / pause</span>'
        "</nav>\n"
    )


def _table(rows: Sequence[LineRow]) -> str:
    head = (
        "<table>\n<thead><tr><th>#</th><th>character</th><th>text</th><th>take</th>"
        "<th>audio</th><th>waveform / spectrogram</th><th>duration</th><th>scores</th>"
        "<th>changed</th></tr></thead>\n"
    )
    body = "".join(row_html(r) for r in rows)
    return f'{head}<tbody id="lines" data-filter="all">\n{body}</tbody>\n</table>\n'


def row_html(row: LineRow) -> str:
    """One line's row. ``row.comparison`` adds the old take's player beside the new."""
    flags = (" data-failing" if row.failing else "") + (" data-changed" if row.changes else "")
    take = f"take {row.take}" if row.take > 1 else "first take"
    seed = "" if row.seed is None else f"<br>seed {_e(row.seed)}"
    label = f'<br><span class="muted">[{_e(row.id)}]</span>'
    duration = "" if row.duration_s is None else f"{row.duration_s:.3f} s"
    return (
        f'<tr class="line" id="line-{_e(row.id)}" data-id="{_e(row.id)}" aria-selected="false"'
        f"{flags}>"
        f'<td class="n">{row.index}{label}</td>'
        f'<td class="who">{_e(row.character)}</td>'
        f'<td class="text">{_e(row.text)}</td>'
        f'<td class="take">{take}{seed}</td>'
        f'<td class="audio">{_players(row)}</td>'
        f'<td class="pic">{_picture(row)}</td>'
        f'<td class="dur">{duration}</td>'
        f'<td class="scores">{_scores(row)}</td>'
        f'<td class="changes">{_changes(row.changes)}</td>'
        "</tr>\n"
    )


def _audio(src: str, css: str) -> str:
    return f'<audio class="{css}" controls preload="none" src="{_e(src)}"></audio>'


def _players(row: LineRow) -> str:
    note = f'<span class="note">{_e(row.note)}</span>' if row.note else ""
    if row.audio is None:
        return note or '<span class="note">not rendered</span>'
    new = _audio(row.audio, "new")
    if row.comparison is None:
        return new + note
    c = row.comparison
    similarity = "" if c.similarity is None else f", similarity {c.similarity:.2f}"
    source = f" ({_e(c.source)})" if c.source else ""
    return (
        f'<span class="ab">A: old{source}</span>{_audio(c.old_audio, "old")}'
        f'<span class="ab">B: new{similarity}</span>{new}{note}'
    )


def _picture(row: LineRow) -> str:
    if row.picture is None:
        return ""
    return (
        f'<img loading="lazy" decoding="async" width="192" height="64" '
        f'alt="waveform and spectrogram of line {_e(row.id)}" data-src="{_e(row.picture)}">'
    )


def _scores(row: LineRow) -> str:
    failing = dict(row.problems)
    known = [k for k in SCORE_ORDER if k in row.scores]
    names = known + sorted(k for k in row.scores if k not in SCORE_ORDER)
    cells = []
    for name in names:
        value = row.scores[name]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        shown = _number(value) if not isinstance(value, str) else value
        if name in failing:
            cells.append(
                f'<span class="score bad" data-measure="{_e(name)}" title="{_e(failing[name])}">'
                f"{_e(name)} {_e(shown)}</span>"
            )
        else:
            cells.append(
                f'<span class="score" data-measure="{_e(name)}">{_e(name)} {_e(shown)}</span>'
            )
    problems = "".join(f'<span class="problem">{_e(p)}</span>' for _, p in row.problems)
    return "".join(cells) + problems


def _number(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _changes(changes: Sequence[Change]) -> str:
    return "".join(f'<span class="change">{_e(c.describe())}</span>' for c in changes)
