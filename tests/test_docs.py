"""The documentation site: it builds offline with --strict, its reference holds every command-line
option, report parameter and public name, it fetches nothing when opened, and its Python
examples run as written with the figures the text quotes."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# the sections of the README before it became the site (2026-12-04): each lives in a page
OLD_README_SECTIONS = [
    "The two commands", "Your own data", "Command line", "Reports",
    "Every week: a schedule, alarms and results over time", "JupyterLab",
    "AWS: S3, CloudWatch and Personalize", "Input formats", "How an event's source is resolved",
    "Worked example", "Comparing sources", "Which method when", "Statistics from moments",
    "Calibration", "Reliability", "The sample", "Performance", "Large inputs", "Architecture",
    "Development"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--site-dir", str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_every_command_line_option_is_in_the_reference(site):
    from attrkit.cli import build_parser

    page = (site / "reference" / "cli.html").read_text()
    parser = build_parser()
    missing = []

    def walk(p: argparse.ArgumentParser, name: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child, cp in action.choices.items():
                    if f"attrkit {name} {child}".strip().replace("  ", " ") not in _text(page):
                        missing.append(f"{name} {child}")
                    walk(cp, f"{name} {child}".strip())
            for opt in action.option_strings:
                if opt not in ("-h", "--help") and f"<code>{opt}</code>" not in page:
                    missing.append(f"{name} {opt}")

    walk(parser, "")
    assert missing == []


def test_every_report_parameter_and_public_name_is_in_the_reference(site):
    import attrkit
    from attrkit.reports.run import parameters, templates_dir

    params = (site / "reference" / "report-parameters.html").read_text()
    for template in templates_dir().glob("*.ipynb"):
        for name in parameters(template):
            assert f"<code>{name}</code>" in params, (template.stem, name)
    api = (site / "reference" / "api.html").read_text()
    for name in attrkit.__all__:
        if name != "__version__":
            assert re.search(rf'id="[\w.]*\b{re.escape(name)}"', api), name


def test_every_public_name_has_a_google_style_docstring_with_an_example():
    """(The examples run as doctests in make test: pytest's --doctest-modules.)"""
    import inspect

    import attrkit

    documented = [n for n in attrkit.__all__ if inspect.isclass(getattr(attrkit, n))
                  or inspect.isfunction(getattr(attrkit, n)) or inspect.ismodule(getattr(attrkit, n))]
    assert len(documented) == len(attrkit.__all__) - 2  # all but __version__ and WINDOW_SCHEMA
    lacking = [n for n in documented if ">>>" not in (inspect.getdoc(getattr(attrkit, n)) or "")]
    assert lacking == []
    numpy_style = [n for n in documented if re.search(
        r"^\s*(Parameters|Returns)\n\s*-{3,}", inspect.getdoc(getattr(attrkit, n)) or "",
        flags=re.M)]
    assert numpy_style == []


def test_every_section_of_the_old_readme_lives_in_the_site(site):
    headings = set()
    for page in site.rglob("*.html"):
        headings |= {_text(h).replace("&para;", "").strip() for h in
                     re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", page.read_text(), flags=re.S)}
    headings = {re.sub(r"\s+", " ", h).replace("&#39;", "'") for h in headings}
    renamed = {"Reports": "The report", "Large inputs": "Large inputs and Spark"}
    missing = [s for s in OLD_README_SECTIONS if renamed.get(s, s) not in headings]
    assert missing == []


def test_the_readme_is_short_and_points_to_the_site():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert "make docs" in readme and "build/site/index.html" in readme


def test_the_site_fetches_nothing_when_opened(site):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update"])
        for page_path in ("index.html", "reference/api.html", "concepts/calibration.html",
                          "guides/report.html"):
            page = browser.new_page()
            requests, errors = [], []
            page.on("request", lambda r, seen=requests: seen.append(r.url))
            page.on("pageerror", lambda e, seen=errors: seen.append(str(e)))
            page.goto((site / page_path).as_uri(), wait_until="load")
            assert page.locator("h1").count() >= 1
            assert page.evaluate("[...document.images].every(i => i.complete && "
                                 "i.naturalWidth > 0)"), page_path
            assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
            assert errors == [], page_path
            page.close()
        browser.close()


def _nav_pages() -> list[Path]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", "#"))

    def walk(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                yield from walk(value)
            else:
                yield DOCS / value

    return list(walk(config["nav"]))


def _python_blocks() -> tuple[list[str], list[str]]:
    """The docs' Python examples in the site's order, and the one that runs on Spark."""
    blocks = [b for page in _nav_pages()
              for b in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)]
    assert len(blocks) >= 3
    on_spark = [b for b in blocks if 'engine="spark"' in b]
    assert len(on_spark) == 1 and 'generate_sample("build/sample")' in blocks[0]
    return blocks, on_spark


@pytest.mark.spark_matrix
def test_the_spark_example_runs_as_written(tmp_path):
    """The docs' Spark example (the engines agree on the sample), as written, on a sample of
    400 users, in a script of its own after the first block: the full sample costs Spark's
    local mode a minute, and the engines' agreement at size is the benchmark's to show (make
    bench)."""
    blocks, on_spark = _python_blocks()
    small = blocks[0].replace('generate_sample("build/sample")',
                              'generate_sample("build/small", days=3, users=400)')
    done = subprocess.run([sys.executable, "-c", small + "\n" + on_spark[0]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "build" / "reports").is_dir()


def test_every_python_example_runs_as_written(tmp_path):
    """The docs' Python examples but the Spark one, in the site's order, in a fresh folder
    (after `make report` alone: they make the sample files they read); then the figures the
    text quotes."""
    blocks, on_spark = _python_blocks()
    script = "\n".join(b for b in blocks if b not in on_spark) + (
        "\nprint(' '.join(f'{x:.4f}' for x in by_user['lift']))"
        "\nwatch = attrkit.monitor(result, metric='CLICKS', control=A, treatment=B)"
        "\nfirst = watch.filter(pl.col('significant').fill_null(False)).row(0, named=True)"
        "\nprint(first['looks'], first['n'])"
        "\nr = table.incrementality.frame.filter(metric='CLICKS', arm=B).row(0, named=True)"
        "\nprint(f\"{r['incremental_per_user']:.3g} {r['attributed_per_user']:.3g} "
        "{r['attributed_over_incremental']:.2g}\")\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lifts, first, added = done.stdout.strip().splitlines()[-3:]
    comparing = (DOCS / "concepts" / "comparing.md").read_text()
    # the numbers the page shows beside the compare_users example
    assert lifts == "0.0820 0.0783 0.0773"
    assert all(x in comparing for x in lifts.split())
    # the page's account of the monitor: significant from the first day on, 13,592 users
    looks, users = map(int, first.split())
    assert looks == 1 and users == 13_592
    assert "excludes 0 from the first\nday on (13,592 users)" in comparing
    # and of the holdout: what B adds, what attribution credits it with, the ratio
    inc, credited, ratio = added.split()
    assert (inc, credited, ratio) == ("1.38", "9.06", "6.6")
    assert f"clicked {inc} more per user" in comparing
    assert f"attribution credits B with {credited} — {ratio} times" in comparing
