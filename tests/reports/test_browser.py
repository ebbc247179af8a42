"""Rendered reports opened in a real headless browser (Debian's chromium, via Playwright).

The page renders, every image loads, no request leaves the machine, the console stays clean,
and hostile source labels show as text and never run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from conftest import run_attrkit

from attrkit.simulate.sample import generate_sample

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCRIPT_LABEL = "<script>alert(1)</script>"
IMG_LABEL = "<img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium "
                    "(make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    """A report whose sources are named to attack the page."""
    root = tmp_path_factory.mktemp("hostile")
    paths = generate_sample(root / "sample", seed=11, days=2, users=2000)
    ev = pl.read_csv(paths.interactions, infer_schema=False)
    ev = ev.with_columns(
        pl.when(pl.col("EVENT_ATTRIBUTION_SOURCE") == "partner-carousel")
        .then(pl.lit(SCRIPT_LABEL))
        .when(pl.col("EVENT_ATTRIBUTION_SOURCE").is_null()
              & pl.col("RECOMMENDATION_ID").is_null()
              & (pl.col("USER_ID").str.slice(-1) == "7"))
        .then(pl.lit(IMG_LABEL))
        .otherwise(pl.col("EVENT_ATTRIBUTION_SOURCE")).alias("EVENT_ATTRIBUTION_SOURCE"))
    ev.write_csv(paths.interactions)
    out = root / "out"
    done = run_attrkit(
        "report", "--out", str(out), "--name", "hostile",
        "-p", "interactions", str(paths.interactions), "-p", "items", str(paths.items),
        "-p", "recommendations", str(paths.recommendations),
        "-p", "metric_attribution", str(paths.metric_attribution))
    assert done.returncode == 0, done.stderr
    return out / "hostile.html"


def _open(browser, path: Path):
    page = browser.new_page()
    requests, errors, dialogs = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    return page, requests, errors, dialogs


def test_report_renders_offline_with_every_image(browser, hostile_report):
    page, requests, errors, dialogs = _open(browser, hostile_report)
    assert page.title()
    assert page.locator("h1").first.inner_text() == "Which recommendation source drives engagement?"
    images = page.locator("img")
    assert images.count() >= 6  # metrics over time, forest, monitor, traffic share
    broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                           ".map(i => i.src.slice(0, 40))")
    assert broken == []
    outside = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert outside == []
    assert errors == []
    assert dialogs == []
    page.close()


def test_hostile_labels_are_text_and_never_run(browser, hostile_report):
    page, _, _, dialogs = _open(browser, hostile_report)
    text = page.locator("body").inner_text()
    assert SCRIPT_LABEL in text
    assert IMG_LABEL in text
    assert page.locator("script").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
    page.close()


def test_index_page_links_the_run(browser, hostile_report):
    page, requests, errors, _ = _open(browser, hostile_report.parent / "index.html")
    # the trend charts load from the page itself; nothing leaves the machine
    charts = page.locator("img")
    assert charts.count() >= 1
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert page.locator("script").count() == 0
    link = page.locator("a[href='hostile.html']")
    assert link.count() == 2  # the latest answer, and the run's row
    link.first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("hostile.html")
    assert errors == []
    page.close()


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    done = run_attrkit("report", "--out", str(out), "-p", "sample_days", "3")
    assert done.returncode == 0, done.stderr
    return out / "attribution_report.html"


def test_the_answer_comes_first_and_the_parameters_last(browser, sample_report):
    page, _, errors, _ = _open(browser, sample_report)

    def top(selector):
        return page.locator(selector).first.bounding_box()["y"]

    answer = page.locator("p", has_text="Answer:").first
    assert answer.bounding_box()["y"] < top("img")  # above the first plot
    text = answer.inner_text()
    assert "per assigned user" in text and "vs" in text or "drove" in text, text
    assert "synthetic" in page.locator("body").inner_text()
    conclusion = page.locator("h2", has_text="Conclusion").first.bounding_box()["y"]
    details = page.locator("details").last
    assert details.bounding_box()["y"] > conclusion and details.get_attribute("open") is None
    assert errors == []
    page.close()
