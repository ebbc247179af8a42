"""attrkit.plots: Axes in, Axes out, stable colours, attrkit's intervals, no process-wide change."""

import math

import matplotlib
import matplotlib.pyplot as plt
import polars as pl
import pytest

from attrkit import plots
from attrkit.frames import to_datetime

matplotlib.use("Agg")
HOSTILE = "<script>alert(1)</script>"


def _windows(days: int, sources: list[str]) -> pl.DataFrame:
    ts = list(range(0, days * 86_400, 900))
    return pl.DataFrame({
        "timestamp": [t for t in ts for _ in sources],
        "source": [s for _ in ts for s in sources],
        "metric_name": "CLICKS",
        "value": [float((t // 900) % 7 + i) for t in ts for i, _ in enumerate(sources)],
    }).with_columns(to_datetime(pl.col("timestamp")).alias("window_start"))


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize("days", [0, 1, 60])
def test_metric_plot_draws_one_line_per_source_in_stable_colours(days):
    sources = ["b", "SOURCE_NAME_UNDEFINED", "a", HOSTILE]
    w = _windows(days, sources) if days else _windows(1, sources).head(0)
    before = dict(matplotlib.rcParams)
    _, given = plt.subplots()
    ax = plots.plot_metric(w, "clicks", ax=given, resample="1h" if days < 60 else "1d")
    assert ax is given
    assert dict(matplotlib.rcParams) == before  # the theme applied while drawing only
    if not days:
        assert ax.get_legend() is None
        return
    colours = plots.source_colours(sources)
    legend = {t.get_text(): h.get_color() for t, h in
              zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles, strict=True)}
    assert legend == {plots.short_label(s): colours[s] for s in sources}
    assert colours["SOURCE_NAME_UNDEFINED"] == plots.UNDEFINED_COLOUR
    assert legend[HOSTILE] == colours[HOSTILE]  # a label is text, drawn as such
    # hourly sums: the plotted line of source "a" is the sum of its four windows per hour
    a = next(line for line in ax.get_lines() if line.get_color() == colours["a"]
             and len(line.get_xdata()) > 1)
    expected = (w.filter(source="a").sort("window_start")
                .group_by_dynamic("window_start", every="1h" if days < 60 else "1d")
                .agg(pl.col("value").sum()))["value"].to_list()
    assert list(a.get_ydata()) == expected


def _table(rows: int) -> pl.DataFrame:
    return pl.DataFrame({
        "metric": ["CLICKS"] * rows, "control": ["a"] * rows, "treatment": [HOSTILE] * rows,
        "lift": [0.1 * (i - 1) for i in range(rows)],
        "lift_ci_low": [0.1 * (i - 1) - 0.05 for i in range(rows)],
        "lift_ci_high": [0.1 * (i - 1) + 0.05 for i in range(rows)],
        "significant": [i % 2 == 0 for i in range(rows)],
    }, schema_overrides={"lift": pl.Float64, "lift_ci_low": pl.Float64,
                         "lift_ci_high": pl.Float64})


@pytest.mark.parametrize("rows", [0, 1, 40])
def test_forest_plot_draws_attrkits_intervals(rows):
    frame = _table(rows)
    ax = plots.plot_forest(frame)
    segments = [seg for coll in ax.collections if hasattr(coll, "get_segments")
                for seg in coll.get_segments()]
    assert len(segments) == rows
    drawn = sorted((round(s[0][0], 9), round(s[1][0], 9)) for s in segments)
    assert drawn == sorted((round(lo * 100, 9), round(hi * 100, 9)) for lo, hi in
                           zip(frame["lift_ci_low"], frame["lift_ci_high"], strict=True))
    assert len(ax.get_yticklabels()) == rows
    if rows:
        assert ax.get_yticklabels()[-1].get_text() == f"CLICKS: {plots.short_label(HOSTILE, 24)} vs a"


def test_monitor_plot_bounds_an_infinite_first_interval():
    t = list(range(0, 10 * 86_400, 86_400))
    frame = pl.DataFrame({"timestamp": t, "effect": [0.05] * 10,
                          "ci_low": [-math.inf] + [0.0] * 9, "ci_high": [math.inf] + [0.1] * 9}
                         ).with_columns(to_datetime(pl.col("timestamp")).alias("window_start"))
    ax = plots.plot_monitor(frame, title="x")
    low, high = ax.get_ylim()
    assert math.isfinite(low) and math.isfinite(high) and low < 0 < 10 < high
    assert [line.get_ydata()[0] for line in ax.get_lines() if len(line.get_ydata()) == 10] == [5.0]


def test_traffic_share_adds_to_100_percent_per_hour():
    ts = list(range(0, 2 * 86_400, 900))
    exposure = pl.DataFrame({"timestamp": ts * 2, "source": ["a"] * len(ts) + ["b"] * len(ts),
                             "exposure": [1.0] * len(ts) + [3.0] * len(ts)})
    ax = plots.plot_traffic_share(exposure)
    shares = {tuple(line.get_ydata()[:3]) for line in ax.get_lines() if len(line.get_ydata()) > 2}
    assert shares == {(25.0,) * 3, (75.0,) * 3}


def test_two_windows_keep_a_short_time_axis_and_show_their_points():
    w = _windows(1, ["a", "b"]).head(4)  # two windows, two sources
    ax = plots.plot_metric(w, "clicks", resample=None)
    low, high = (matplotlib.dates.num2date(x) for x in ax.get_xlim())
    assert (high - low).total_seconds() < 6 * 3600
    assert all(line.get_marker() == "o" for line in ax.get_lines() if len(line.get_xdata()) == 2)


def test_the_monitor_axis_always_holds_zero():
    t = list(range(0, 5 * 86_400, 86_400))
    frame = pl.DataFrame({"timestamp": t, "effect": [0.30] * 5, "ci_low": [0.2] * 5,
                          "ci_high": [0.4] * 5}).with_columns(
        to_datetime(pl.col("timestamp")).alias("window_start"))
    low, high = plots.plot_monitor(frame).get_ylim()
    assert low < 0 < high


@pytest.mark.parametrize("label", ["deals$^{$", "$5 off and $10 off", "$\\frac{1}{0}$"])
def test_dollar_signs_in_labels_are_text_not_maths(label):
    w = _windows(1, ["a", label])
    ax = plots.plot_metric(w, "clicks")
    assert plots.short_label(label) in [t.get_text() for t in ax.get_legend().get_texts()]
    assert plots.png(ax)[:4] == b"\x89PNG"  # drawn: mathtext would raise on the first
    runs = pl.DataFrame({"run": [label, "w2"], "pair": [f"{label} vs a"] * 2, "lift": [0.1, 0.2],
                         "low": [0.0, 0.1], "high": [0.2, None], "always_valid": [True, False]})
    assert plots.png(plots.plot_runs(runs, label))[:4] == b"\x89PNG"
