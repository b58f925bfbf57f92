"""Reading a review page back (html.parser): its rows, their cells, players and pictures;
and the rows of a long page made of a render's real lines over and over."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from refmgr.deliver.pictures import draw, picture_problem
from refmgr.deliver.report import Comparison, LineRow
from refmgr.render.output import pcm_of


def repeated_rows(
    root: Path,
    entries: Sequence[Mapping[str, Any]],
    count: int,
    comparisons: Mapping[int, Comparison] | None = None,
) -> list[LineRow]:
    """``count`` rows cycling through the lock ``entries`` (their real outputs and
    pictures); ``comparisons``: by row index, an A/B take."""
    pictures = []
    for entry in entries:
        samples, rate = pcm_of((root / entry["output"]["path"]).read_bytes())
        png = draw(samples, rate)
        assert picture_problem(png) is None
        pictures.append("data:image/png;base64," + base64.b64encode(png).decode())
    rows = []
    for i in range(count):
        entry = entries[i % len(entries)]
        rows.append(
            LineRow(
                i + 1,
                f"{i + 1:04d}",
                entry["character"],
                entry["text"],
                entry["output"]["path"],
                entry["output"]["duration_s"],
                picture=pictures[i % len(entries)],
                comparison=(comparisons or {}).get(i),
            )
        )
    return rows


@dataclass
class Row:
    attrs: dict[str, str | None]
    cells: dict[str, str] = field(default_factory=dict)  # td class -> its text
    audio: list[dict[str, str | None]] = field(default_factory=list)
    images: list[dict[str, str | None]] = field(default_factory=list)
    bad_scores: list[str] = field(default_factory=list)  # data-measure of span.score.bad

    @property
    def id(self) -> str:
        return str(self.attrs["data-id"])


@dataclass
class Page:
    rows: list[Row] = field(default_factory=list)
    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    text: str = ""  # all text outside <script> and <style>


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.row: Row | None = None
        self.cell: str | None = None
        self.raw: str | None = None  # inside script or style
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.page.tags.append((tag, a))
        if tag in ("script", "style"):
            self.raw = tag
            if tag == "script":
                self.page.scripts.append("")
        elif tag == "tr" and "line" in (a.get("class") or "").split():
            self.row = Row(a)
            self.page.rows.append(self.row)
        elif self.row is not None and tag == "td":
            self.cell = a.get("class") or ""
            self.row.cells[self.cell] = ""
        elif self.row is not None and tag == "audio":
            self.row.audio.append(a)
        elif self.row is not None and tag == "img":
            self.row.images.append(a)
        elif self.row is not None and tag == "span" and "bad" in (a.get("class") or "").split():
            self.row.bad_scores.append(str(a.get("data-measure")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.raw = None
        elif tag == "tr":
            self.row, self.cell = None, None
        elif tag == "td":
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.raw == "script":
            self.page.scripts[-1] += data
            return
        if self.raw is not None:
            return
        self.chunks.append(data)
        if self.row is not None and self.cell is not None:
            self.row.cells[self.cell] += data


def read_page(path: Path) -> Page:
    reader = _Reader()
    reader.feed(path.read_text("utf-8"))
    reader.close()
    reader.page.text = "".join(reader.chunks)
    return reader.page
