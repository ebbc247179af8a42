import polars as pl

from attrkit.sources import resolve_sources


def test_resolution_rules():
    ev = pl.LazyFrame({
        "RECOMMENDATION_ID": ["r1", "r1", "unknown", None, None],
        "EVENT_ATTRIBUTION_SOURCE": [None, "partner", None, None, "partner"],
        "k": [0, 1, 2, 3, 4],
    })
    log = pl.LazyFrame({"RECOMMENDATION_ID": ["r1"], "SOURCE": ["arn:campaign/a"]})
    out = resolve_sources(ev, log).collect().sort("k")
    # label wins even over a known recommendation ID; unknown IDs are undefined and unresolved
    assert out["SOURCE"].to_list() == [
        "arn:campaign/a", "partner", "SOURCE_NAME_UNDEFINED", "SOURCE_NAME_UNDEFINED", "partner"]
    assert out["_unresolved"].to_list() == [False, False, True, False, False]


def test_without_a_log_every_id_is_unresolved():
    ev = pl.LazyFrame({"RECOMMENDATION_ID": ["r1", None]})
    out = resolve_sources(ev, None).collect()
    assert out["SOURCE"].to_list() == ["SOURCE_NAME_UNDEFINED"] * 2
    assert out["_unresolved"].to_list() == [True, False]


def test_missing_columns_mean_no_label_and_no_id():
    out = resolve_sources(pl.LazyFrame({"x": [1]}), None).collect()
    assert out["SOURCE"].to_list() == ["SOURCE_NAME_UNDEFINED"]
