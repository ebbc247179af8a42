"""The documentation's figures, made from the project itself (``make docs-figures``):

- ``img/report-*.png``: screenshots of the bundled sample's report, in Debian's chromium;
- ``img/calibration.png``: the calibration table of ``concepts/calibration.md`` as a plot (the
  plot reads the table, so the two cannot disagree);
- ``img/data-flow.png``: the package's data flow.

Run from the repository's root: ``python docs/figures.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
IMG = HERE / "img"


def screenshots() -> None:
    from playwright.sync_api import sync_playwright

    out = Path(tempfile.mkdtemp(prefix="attrkit-docs-"))
    subprocess.run([sys.executable, "-m", "attrkit", "report", "--out", str(out)], check=True)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto((out / "attribution_report.html").as_uri(), wait_until="load")
        page.screenshot(path=str(IMG / "report-top.png"))
        for name, heading in (("report-comparisons", "Comparisons"),
                              ("report-conclusion", "Conclusion")):
            page.locator("h2", has_text=heading).first.scroll_into_view_if_needed()
            page.screenshot(path=str(IMG / f"{name}.png"))
        browser.close()


def calibration() -> None:
    text = (HERE / "concepts" / "calibration.md").read_text()
    rows = [r for r in text.splitlines() if r.startswith("| ") and re.search(r"\d ± \d", r)
            and r.count("|") == 11]  # the scenario table's rows
    names, aa, cov = [], [], []
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        names.append(cells[0])
        aa.append([float(c.split("±")[0]) for c in cells[3:6]])
        cov.append(float(cells[8].split("±")[0]))
    runs = int(rows[0].split("|")[2])
    se = (0.05 * 0.95 / runs) ** 0.5
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.4))
    y = list(range(len(names)))[::-1]
    ax.axvspan(0.05 - 3 * se, 0.05 + 3 * se, color="#d9e6f5", label="α ± 3 SE")
    ax.axvline(0.05, color="#444444", lw=1)
    for k, (label, marker) in enumerate((("per user", "o"), ("per recommendation", "s"),
                                         ("revenue per user", "^"))):
        ax.scatter([a[k] for a in aa], y, marker=marker, label=label, zorder=3)
    ax.set_yticks(y, names)
    ax.set_xlabel(f"A/A false-positive rate ({runs} replicates each; α = 0.05)")
    ax.set_title("Users as units hold α in every scenario")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "calibration.png", dpi=110)
    plt.close(fig)


def data_flow() -> None:
    boxes = [
        ("storage\nlocal, s3://", 0.05), ("inputs\nCSV, Parquet,\nPutEvents", 0.22),
        ("attribution\nsources, windows,\nhealth, per-user\nmoments", 0.42),
        ("personalize\nthe service's\nS3 CSV, CloudWatch", 0.68),
        ("comparison\n(stats)", 0.68), ("reports\nnotebooks → HTML", 0.92)]
    fig, ax = plt.subplots(figsize=(11, 3.2))
    ax.set_axis_off()
    pos = {}
    for i, (label, x) in enumerate(boxes):
        yv = 0.72 if i == 3 else 0.28 if i in (4, 5) else 0.5
        pos[i] = (x, yv)
        ax.text(x, yv, label, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round,pad=0.5", "fc": "#eef3fb", "ec": "#3f51b5"})
    for a, b in ((0, 1), (1, 2), (2, 3), (2, 4), (4, 5)):
        ax.annotate("", xy=(pos[b][0] - 0.08, pos[b][1]), xytext=(pos[a][0] + 0.08, pos[a][1]),
                    arrowprops={"arrowstyle": "->", "color": "#3f51b5"})
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.savefig(IMG / "data-flow.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    IMG.mkdir(exist_ok=True)
    calibration()
    data_flow()
    if "--no-screenshots" not in sys.argv:
        screenshots()
