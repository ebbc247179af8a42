import polars as pl

from attrkit import sources
from attrkit.attribution.sources import resolve_sources


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
    assert out["__attrkit_unresolved"].to_list() == [False, False, True, False, False]


def test_without_a_log_every_id_is_unresolved():
    ev = pl.LazyFrame({"RECOMMENDATION_ID": ["r1", None]})
    out = resolve_sources(ev, None).collect()
    assert out["SOURCE"].to_list() == ["SOURCE_NAME_UNDEFINED"] * 2
    assert out["__attrkit_unresolved"].to_list() == [True, False]


def test_missing_columns_mean_no_label_and_no_id():
    out = resolve_sources(pl.LazyFrame({"x": [1]}), None).collect()
    assert out["SOURCE"].to_list() == ["SOURCE_NAME_UNDEFINED"]


def _frames():
    ev = pl.LazyFrame({
        "RECOMMENDATION_ID": ["ab", "cd", "xy", "zz", None],
        "EVENT_ATTRIBUTION_SOURCE": [None, None, None, None, None],
        "k": [0, 1, 2, 3, 4],
    })
    log = pl.DataFrame({"RECOMMENDATION_ID": ["ab", "cd", "zz"], "SOURCE": ["A", "B", "A"]})
    return ev, log


def test_a_first_hash_collision_is_caught_by_the_second(monkeypatch):
    # The first key is whatever k_first says, so "xy" shares it with "cd".
    monkeypatch.setattr(sources, "id_hashes",
                        lambda ids: (pl.col("k_first").cast(pl.UInt64), ids.hash(seed=7)))
    ev = pl.LazyFrame({"RECOMMENDATION_ID": ["ab", "xy"], "k_first": [1, 2], "k": [0, 1]})
    log = pl.DataFrame({"RECOMMENDATION_ID": ["ab", "cd"], "SOURCE": ["A", "B"],
                        "k_first": [1, 2]})
    out = sources.resolve_sources(ev, log).collect().sort("k")
    # "xy" has the first key of "cd" but not its second: unresolved, not served by B
    assert out["SOURCE"].to_list() == ["A", "SOURCE_NAME_UNDEFINED"]
    assert out["__attrkit_unresolved"].to_list() == [False, True]


def test_colliding_log_ids_fall_back_to_joining_on_the_strings(monkeypatch):
    ev, log = _frames()
    # A first key every ID shares: the log's keys are not unique, so the strings are joined.
    monkeypatch.setattr(sources, "id_hashes", lambda ids: (ids.hash(seed=1) * 0, ids.hash(seed=2)))
    out = sources.resolve_sources(ev, log).collect().sort("k")
    assert out["SOURCE"].to_list() == ["A", "B", "SOURCE_NAME_UNDEFINED", "A",
                                       "SOURCE_NAME_UNDEFINED"]
    assert out["__attrkit_unresolved"].to_list() == [False, False, True, False, False]


def test_hashed_and_string_joins_agree_on_random_ids():
    import random

    rng = random.Random(3)
    ids = [f"rec-{rng.getrandbits(40):x}" for _ in range(5000)]
    log = pl.DataFrame({"RECOMMENDATION_ID": ids[:3000],
                        "SOURCE": [rng.choice("ABC") for _ in range(3000)]})
    ev = pl.LazyFrame({"RECOMMENDATION_ID": [rng.choice(ids + [None]) for _ in range(20000)],
                       "EVENT_ATTRIBUTION_SOURCE": [rng.choice([None] * 9 + ["L"])
                                                    for _ in range(20000)]}).with_row_index()
    got = sources.resolve_sources(ev, log).collect().sort("index")
    want = ev.join(log.lazy(), on="RECOMMENDATION_ID", how="left").select(
        "index", pl.coalesce("EVENT_ATTRIBUTION_SOURCE", "SOURCE", pl.lit("SOURCE_NAME_UNDEFINED"))
    ).collect().sort("index")
    assert got["SOURCE"].to_list() == want["EVENT_ATTRIBUTION_SOURCE"].to_list()
    assert got["SOURCE"].value_counts().height == 5  # A, B, C, L and undefined all occur
