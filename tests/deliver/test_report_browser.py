"""The review page in a real headless Chromium, opened from disk (file://).

A real draft render of the two-voice script, scored with refmgr[qa] (level, peaks,
silence: what a draft render is scored for), committed, then one line edited and rendered
again: so the page has a changed line, and with [quality.render] min_lufs set between the
quietest and the loudest line, lines that fail the gate as `render status` judges them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from refmgr.deliver.report import Provenance, ReportPage, page_html
from tests.support.browser import chromium, console_errors, screenshot_variance
from tests.support.cli import run_cli
from tests.support.gitenv import template_git
from tests.support.quality import require_qa, set_limits
from tests.support.report import repeated_rows


def _must(*args: str) -> str:
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def reviewed(cast_repo: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The rendered repository and what the page must show: lock, failing and changed ids."""
    require_qa()
    monkeypatch.setenv("REFMGR_QUALITY", "auto")
    _must("render", "ep.txt")
    template_git(cast_repo, "add", "-A")
    template_git(cast_repo, "commit", "-q", "-m", "render")
    script = cast_repo / "ep.txt"
    script.write_text(script.read_text().replace("Good night.", "Good night, <b>all</b>."))
    _must("render", "ep.txt")
    lock = json.loads((cast_repo / "renders" / "ep.lock.json").read_text())
    loudness = sorted(e["quality"]["scores"]["lufs"] for e in lock["entries"])
    assert loudness[0] < loudness[-1], loudness
    set_limits(cast_repo, min_lufs=round((loudness[0] + loudness[-1]) / 2, 4))
    status = json.loads(_must("render", "status", "ep.txt", "--json"))
    failing = {line["id"] for line in status["lines"] if line["quality"]["problems"]}
    assert 0 < len(failing) < len(lock["entries"])
    (cast_repo / "review").mkdir()
    out = _must("render", "report", "ep.txt", "-o", "review/report.html")
    assert "review/report.html" in out
    return {"page": cast_repo / "review" / "report.html", "lock": lock, "failing": failing}


def test_the_page_in_chromium(reviewed: dict[str, Any]) -> None:
    lock = reviewed["lock"]
    with chromium() as driver:
        driver.get(reviewed["page"].resolve().as_uri())
        assert console_errors(driver) == []
        _audio_loads_with_locked_durations(driver, lock)
        _filters_show_exactly(driver, reviewed["failing"], {"end"})
        _keys_move_the_selection(driver, lock)
        assert screenshot_variance(driver) > 100.0
        assert console_errors(driver) == []


def _audio_loads_with_locked_durations(driver: Any, lock: dict[str, Any]) -> None:
    durations = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const rows = [...document.querySelectorAll("tr.line")];
        Promise.all(rows.map((row) => new Promise((resolve) => {
          const audio = row.querySelector("audio");
          audio.addEventListener("loadedmetadata", () => resolve([row.dataset.id, audio.duration]));
          audio.addEventListener("error", () => resolve([row.dataset.id, "error"]));
          audio.preload = "metadata";
          audio.load();
        }))).then(done);
        """
    )
    locked = {e["id"]: e["output"]["duration_s"] for e in lock["entries"]}
    assert [d[0] for d in durations] == [e["id"] for e in lock["entries"]]
    for line, seconds in durations:
        assert seconds != "error", line
        assert abs(seconds - locked[line]) <= 0.010, (line, seconds, locked[line])


def _shown(driver: Any) -> set[str]:
    return set(
        driver.execute_script(
            "return [...document.querySelectorAll('tr.line')]"
            ".filter((r) => getComputedStyle(r).display !== 'none').map((r) => r.dataset.id)"
        )
    )


def _filters_show_exactly(driver: Any, failing: set[str], changed: set[str]) -> None:
    every = set(
        driver.execute_script(
            "return [...document.querySelectorAll('tr.line')].map((r) => r.dataset.id)"
        )
    )
    for name, expected in (("failing", failing), ("changed", changed), ("all", every)):
        driver.find_element("css selector", f"input[name=filter][value={name}]").click()
        assert _shown(driver) == expected, name
        count = driver.find_element("id", "shown").text
        assert count == str(len(expected)), name


def _selected(driver: Any) -> list[str]:
    return list(
        driver.execute_script(
            "return [...document.querySelectorAll('tr.line.sel')].map((r) => r.dataset.id)"
        )
    )


def _keys_move_the_selection(driver: Any, lock: dict[str, Any]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ids = [e["id"] for e in lock["entries"]]
    driver.find_element("tag name", "h1").click()  # no row clicked: nothing selected
    assert _selected(driver) == []
    keys = ActionChains(driver)
    keys.send_keys("j").perform()
    assert _selected(driver) == [ids[0]]
    keys.send_keys("j").perform()
    assert _selected(driver) == [ids[1]]
    ActionChains(driver).send_keys(Keys.ARROW_DOWN).perform()
    assert _selected(driver) == [ids[2]]
    ActionChains(driver).send_keys("k").perform()
    assert _selected(driver) == [ids[1]]
    ActionChains(driver).send_keys(Keys.ARROW_UP).perform()
    assert _selected(driver) == [ids[0]]
    # space plays the selected line, and pauses it again
    paused = "return document.querySelector('tr.line.sel audio').paused"
    ActionChains(driver).send_keys(Keys.SPACE).perform()
    driver.execute_async_script(
        "const done = arguments[0]; const a = document.querySelector('tr.line.sel audio');"
        "if (!a.paused) { done(); } else { a.addEventListener('playing', () => done()); }"
    )
    assert driver.execute_script(paused) is False
    ActionChains(driver).send_keys(Keys.SPACE).perform()
    assert driver.execute_script(paused) is True


def test_a_page_of_2000_lines_loads_lazily(cast_repo: Path) -> None:
    """2,000 rows of real lines (the five outputs over and over): the page opens at once,
    loads no audio, decodes only the pictures near the screen, and the keys still work."""
    _must("render", "ep.txt")
    lock = json.loads((cast_repo / "renders" / "ep.lock.json").read_text())
    rows = repeated_rows(cast_repo, lock["entries"], 2000)
    provenance = Provenance("ep.txt", "renders/ep.lock.json", "draft", True, {})
    page = cast_repo / "big.html"
    page.write_text(page_html(ReportPage(provenance, rows)))
    with chromium() as driver:
        driver.get(page.as_uri())
        loaded_ms = driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
        )
        assert loaded_ms < 10_000
        assert console_errors(driver) == []
        states = driver.execute_script(
            "return [...document.querySelectorAll('audio')].map((a) => a.readyState)"
        )
        assert len(states) == 2000 and set(states) == {0}  # HAVE_NOTHING: none loaded
        decoded = "return document.querySelectorAll('img:not([data-src])').length"
        near = driver.execute_script(decoded)
        assert 0 < near < 100, near
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        driver.execute_async_script(
            "const done = arguments[0];"
            "requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 200)));"
        )
        last = driver.execute_script(
            "return document.querySelector('tr.line:last-child img').hasAttribute('src')"
        )
        assert last is True
        assert near < driver.execute_script(decoded) < near + 100
        from selenium.webdriver.common.action_chains import ActionChains

        driver.find_element("tag name", "h1").click()
        ActionChains(driver).send_keys("jjj").perform()
        assert _selected(driver) == ["0003"]
        assert console_errors(driver) == []
