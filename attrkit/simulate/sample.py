"""A seeded, realistic sample: a video-streaming app with two recommenders, a partner carousel
and organic browsing, with known effects planted so analysis can be checked against the truth.

What it models, per 14 days by default (about a million events):

- users randomised between two Personalize recommenders (sources are their ARNs) and, for a
  tenth of them, a holdout served a popularity list (``HOLDOUT``), whose users browse more on
  their own: part of what the recommenders are attributed is clicks their users would have made
  anyway, which only the holdout shows;
- recommendation lists served on a daily cycle (the log), each list clicked a Poisson number of
  times; recommender B's clicks per list are planted ``B_LIFT`` (8%) higher;
- a watch follows a click with a fixed probability; watch minutes are the item's ``LENGTH``;
- a third-party carousel whose events carry an attribution-source label;
- organic clicks and watches with neither label nor recommendation ID;
- the faults real logs have: a few log entries lost (unresolved recommendation IDs), exact
  duplicate events (client retries), items missing from the catalogue;
- a Users dataset (``users.csv``: ``USER_ID``, ``DEVICE``, ``PLAN``) whose columns are segments;
  the planted lift is the same on every device and plan (drawn from a stream of its own, so
  the events do not depend on it).

Everything the generator planted or counted is written to ``truth.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from attrkit import defaults as D
from attrkit.errors import ConfigError
from attrkit.storage import atomic_write_text, together, write_frame

ACCOUNT_PREFIX = "arn:aws:personalize:us-east-1:111122223333"
RECOMMENDER_A = f"{ACCOUNT_PREFIX}:recommender/top-picks"
RECOMMENDER_B = f"{ACCOUNT_PREFIX}:recommender/because-you-watched"
HOLDOUT = f"{ACCOUNT_PREFIX}:recommender/most-popular"
CAROUSEL = "partner-carousel"
START = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())

CLICKS_PER_LIST_A = 0.40
B_LIFT = 0.08
HOLDOUT_SHARE = 0.1
CLICKS_PER_LIST_HOLDOUT = 0.30
HOLDOUT_EXTRA_ORGANIC_PER_USER_DAY = 0.1
"""Organic clicks a holdout user makes that a personalised list would have drawn onto itself."""
WATCH_PER_CLICK = 0.65
LISTS_PER_USER_DAY = 1.5
CAROUSEL_CLICKS_PER_USER_DAY = 0.35
ORGANIC_CLICKS_PER_USER_DAY = 1.1
LOST_LOG_SHARE = 0.003
DUPLICATE_SHARE = 0.001
UNCATALOGUED_ITEM_SHARE = 0.005
N_ITEMS = 3000
LIST_LENGTH = 10
DEVICES = {"tv": 0.3, "mobile": 0.5, "web": 0.2}
PLANS = {"basic": 0.6, "premium": 0.4}


@dataclass(frozen=True)
class SamplePaths:
    """Where :func:`generate_sample` wrote each file."""

    interactions: Path
    items: Path
    recommendations: Path
    metric_attribution: Path
    truth: Path
    users: Path


def metric_attribution_dict() -> dict:
    """The sample's metric attribution: clicks, watches, watch minutes."""
    return {
        "name": "video-streaming-metrics",
        "datasetGroupArn": f"{ACCOUNT_PREFIX}:dataset-group/video-streaming",
        "metrics": [
            {"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"},
            {"eventType": "watch", "metricName": "WATCHES", "expression": "SAMPLECOUNT()"},
            {"eventType": "watch", "metricName": "WATCH_MINUTES",
             "expression": "SUM(Items.LENGTH)"},
        ],
        "metricsOutputConfig": {
            "roleArn": "arn:aws:iam::111122223333:role/PersonalizeMetricAttribution",
            "s3DataDestination": {"path": "s3://example-bucket/metric-attribution/"},
        },
    }


def _times_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into the day, drawn from a daily cycle peaking in the evening (UTC)."""
    minutes = np.arange(1440)
    weight = 1.0 + 0.8 * np.sin(2 * np.pi * (minutes / 60.0 - 14.0) / 24.0)
    cdf = np.cumsum(weight) / weight.sum()
    minute = np.searchsorted(cdf, rng.random(n))
    return minute * 60 + rng.integers(0, 60, n)


def _day_times(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Unix seconds over ``days`` days from START; weekends (days 5, 6 of each week) busier."""
    day_weight = np.array([1.25 if d % 7 in (5, 6) else 1.0 for d in range(days)])
    day = rng.choice(days, size=n, p=day_weight / day_weight.sum())
    return START + day * 86400 + _times_of_day(rng, n)


MAX_DAYS, MAX_USERS, MAX_USER_DAYS = 366, 10_000_000, 20_000_000
"""The largest sample: a year, ten million users, twenty million user-days (a few GB of
memory while it is made: a sample, not a load test)."""


def check_size(*, seed: int, days: int, users: int) -> None:
    """Raise :class:`ConfigError` unless the sample's seed and size can be generated."""
    for name, value, low, high in (("seed", seed, 0, 2**63 - 1), ("days", days, 1, MAX_DAYS),
                                   ("users", users, 2, MAX_USERS)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"sample {name}={value!r}: must be a whole number from {low:,} "
                              f"to {high:,}")
    if days * users > MAX_USER_DAYS:
        raise ConfigError(f"sample of {users:,} users for {days:,} days: at most "
                          f"{MAX_USER_DAYS:,} user-days")


def generate_frames(*, seed: int = D.SEED, days: int = 14, users: int = 20_000,
                    lift: float = B_LIFT, holdout: float = HOLDOUT_SHARE) -> dict:
    """Generate the sample in memory: frames ``interactions``, ``items``, ``recommendations``,
    ``users`` (the Users dataset) and the ``truth`` dict. Same seed, same data. ``lift`` is
    recommender B's planted relative lift in clicks per list (0 for an A/A sample); ``holdout``
    the share of users in the holdout arm (0 for none: the sample of two arms, the same events
    as before the holdout existed).

    Example:
        >>> frames = generate_frames(seed=1, days=1, users=200)
        >>> sorted(frames)
        ['interactions', 'items', 'recommendations', 'truth', 'users']
    """
    check_size(seed=seed, days=days, users=users)
    rng = np.random.default_rng(seed)
    user_days = users * days

    # Items: episodes and films, minutes; popularity falls off like a Zipf law.
    is_film = rng.random(N_ITEMS) < 0.3
    length = np.where(is_film, rng.normal(105, 20, N_ITEMS), rng.normal(42, 12, N_ITEMS))
    length = np.clip(np.round(length), 5, 240).astype(np.int64)
    popularity = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.9
    popularity /= popularity.sum()
    item_ids = np.char.add("item-", np.char.zfill(np.arange(N_ITEMS).astype("U5"), 5))
    catalogued = rng.random(N_ITEMS) >= UNCATALOGUED_ITEM_SHARE

    arm_of_user = rng.integers(0, 2, users)  # 0 → A, 1 → B
    # the holdout from a stream of its own: without one, the events are as they always were
    hold_rng = np.random.default_rng([seed, 2])
    in_holdout = hold_rng.random(users) < holdout if holdout > 0 else np.zeros(users, bool)

    # Recommendation lists served.
    n_lists = rng.poisson(LISTS_PER_USER_DAY * user_days)
    list_user = rng.integers(0, users, n_lists)
    list_arm = arm_of_user[list_user]
    list_time = _day_times(rng, n_lists, days)
    list_items = rng.choice(N_ITEMS, size=(n_lists, LIST_LENGTH), p=popularity)
    list_ids = np.char.add("rid-", rng.permutation(n_lists).astype("U10"))
    logged = rng.random(n_lists) >= LOST_LOG_SHARE

    list_hold = in_holdout[list_user]
    rate = np.where(list_hold, CLICKS_PER_LIST_HOLDOUT,
                    np.where(list_arm == 1, CLICKS_PER_LIST_A * (1 + lift), CLICKS_PER_LIST_A))
    clicks_per_list = rng.poisson(rate)
    c_list = np.repeat(np.arange(n_lists), clicks_per_list)
    c_item = list_items[c_list, rng.integers(0, LIST_LENGTH, c_list.size)]
    c_time = list_time[c_list] + rng.exponential(90, c_list.size).astype(np.int64) + 1
    watched = rng.random(c_list.size) < WATCH_PER_CLICK
    w_list = c_list[watched]
    w_item = c_item[watched]
    w_time = c_time[watched] + rng.exponential(40, w_list.size).astype(np.int64) + 1

    def labelled(n_per_user_day: float) -> tuple[np.ndarray, ...]:
        n = rng.poisson(n_per_user_day * user_days)
        user = rng.integers(0, users, n)
        item = rng.choice(N_ITEMS, size=n, p=popularity)
        t = _day_times(rng, n, days)
        w = rng.random(n) < WATCH_PER_CLICK
        return user, item, t, w, t + rng.exponential(40, n).astype(np.int64) + 1

    k_user, k_item, k_time, k_w, k_wtime = labelled(CAROUSEL_CLICKS_PER_USER_DAY)
    o_user, o_item, o_time, o_w, o_wtime = labelled(ORGANIC_CLICKS_PER_USER_DAY)

    def block(user, item, t, etype, rid, label) -> pl.DataFrame:
        n = len(user)
        return pl.DataFrame({
            "USER_ID": np.char.add("user-", np.asarray(user).astype("U8")),
            "ITEM_ID": item_ids[item],
            "TIMESTAMP": np.asarray(t, dtype=np.int64),
            "EVENT_TYPE": np.full(n, etype),
            "EVENT_VALUE": np.round(rng.uniform(0.05, 1.0, n), 3) if etype == "watch"
            else np.full(n, np.nan),
            "RECOMMENDATION_ID": rid if rid is not None else np.full(n, None),
            "EVENT_ATTRIBUTION_SOURCE": np.full(n, label),
        }, schema_overrides={"RECOMMENDATION_ID": pl.String, "EVENT_ATTRIBUTION_SOURCE": pl.String})

    held = np.flatnonzero(in_holdout)  # their extra browsing, from the holdout's stream
    n_extra = hold_rng.poisson(HOLDOUT_EXTRA_ORGANIC_PER_USER_DAY * held.size * days) \
        if held.size else 0
    x_user = held[hold_rng.integers(0, held.size, n_extra)] if n_extra else np.zeros(0, int)
    x_item = hold_rng.choice(N_ITEMS, size=n_extra, p=popularity)
    x_time = _day_times(hold_rng, n_extra, days)
    x_w = hold_rng.random(n_extra) < WATCH_PER_CLICK
    x_wtime = x_time + hold_rng.exponential(40, n_extra).astype(np.int64) + 1

    blocks = [
        block(list_user[c_list], c_item, c_time, "click", list_ids[c_list], None),
        block(list_user[w_list], w_item, w_time, "watch", list_ids[w_list], None),
        block(k_user, k_item, k_time, "click", None, CAROUSEL),
        block(k_user[k_w], k_item[k_w], k_wtime[k_w], "watch", None, CAROUSEL),
        block(o_user, o_item, o_time, "click", None, None),
        block(o_user[o_w], o_item[o_w], o_wtime[o_w], "watch", None, None),
        *([block(x_user, x_item, x_time, "click", None, None),
           block(x_user[x_w], x_item[x_w], x_wtime[x_w], "watch", None, None)]
          if n_extra else []),
    ]
    events = pl.concat(blocks).with_columns(pl.col("EVENT_VALUE").fill_nan(None))
    dup = rng.random(events.height) < DUPLICATE_SHARE
    interactions = pl.concat([events, events.filter(pl.Series(dup))])
    order = np.lexsort((rng.random(interactions.height), interactions["TIMESTAMP"].to_numpy()))
    interactions = interactions[order]

    items = pl.DataFrame({
        "ITEM_ID": item_ids[catalogued],
        "LENGTH": length[catalogued],
        "GENRE": np.where(is_film, "film", "series")[catalogued],
    })
    recommendations = pl.DataFrame({
        "RECOMMENDATION_ID": list_ids[logged],
        "SOURCE": np.where(list_hold, HOLDOUT,
                           np.where(list_arm == 1, RECOMMENDER_B, RECOMMENDER_A))[logged],
        "TIMESTAMP": list_time[logged].astype(np.int64),
        "USER_ID": np.char.add("user-", list_user.astype("U8"))[logged],
        **{f"_i{k}": list_items[logged, k] for k in range(LIST_LENGTH)},
    }).with_columns(
        pl.concat_str([pl.format("item-{}", pl.col(f"_i{k}").cast(pl.String).str.zfill(5))
                       for k in range(LIST_LENGTH)], separator="|").alias("ITEM_IDS")
    ).drop([f"_i{k}" for k in range(LIST_LENGTH)]).sort("TIMESTAMP", "RECOMMENDATION_ID")

    meta = np.random.default_rng([seed, 1])  # its own stream: the events do not depend on it
    users_dataset = pl.DataFrame({
        "USER_ID": np.char.add("user-", np.arange(users).astype("U8")),
        "DEVICE": meta.choice(list(DEVICES), users, p=list(DEVICES.values())),
        "PLAN": meta.choice(list(PLANS), users, p=list(PLANS.values())),
    })

    rec_events = interactions.filter(pl.col("RECOMMENDATION_ID").is_not_null())
    lost = set(list_ids[~logged].tolist())
    unresolved = rec_events.filter(pl.col("RECOMMENDATION_ID").is_in(list(lost)))
    truth = {
        "seed": seed, "days": days, "users": users, "start": START,
        "sources": {"A": RECOMMENDER_A, "B": RECOMMENDER_B, "carousel": CAROUSEL,
                    **({"holdout": HOLDOUT} if holdout > 0 else {})},
        "planted": {
            "clicks_per_list": {"A": CLICKS_PER_LIST_A, "B": CLICKS_PER_LIST_A * (1 + lift)},
            "relative_lift_clicks_per_list_B_vs_A": lift,
            "watch_per_click": WATCH_PER_CLICK,
            "arms": (f"users randomised: a holdout share {holdout:g} (popularity lists), the "
                     "rest 50/50 between A and B" if holdout > 0 else
                     "users randomised 50/50 between A and B"),
            **({"holdout": {
                "clicks_per_list": CLICKS_PER_LIST_HOLDOUT,
                "extra_organic_clicks_per_user_day": HOLDOUT_EXTRA_ORGANIC_PER_USER_DAY,
                # per assigned user and day: what each arm's lists are attributed, and what
                # they add over the holdout once its users' extra browsing is counted
                "attributed_clicks_per_user_day": {
                    k: LISTS_PER_USER_DAY * r for k, r in (
                        ("A", CLICKS_PER_LIST_A), ("B", CLICKS_PER_LIST_A * (1 + lift)))},
                "incremental_clicks_per_user_day": {
                    k: LISTS_PER_USER_DAY * (r - CLICKS_PER_LIST_HOLDOUT)
                    - HOLDOUT_EXTRA_ORGANIC_PER_USER_DAY for k, r in (
                        ("A", CLICKS_PER_LIST_A), ("B", CLICKS_PER_LIST_A * (1 + lift)))},
            }} if holdout > 0 else {}),
            "segments": "the same lift on every DEVICE and PLAN of users.csv",
        },
        "counts": {
            "events": interactions.height,
            "duplicate_rows_planted": int(dup.sum()),
            # Independent draws can also coincide exactly; this counts every exact repeat.
            "duplicate_rows": interactions.height - interactions.unique().height,
            "lists_served": int(n_lists),
            "lists_logged": int(logged.sum()),
            "lists_served_by_source": {
                "A": int(((list_arm == 0) & ~list_hold).sum()),
                "B": int(((list_arm == 1) & ~list_hold).sum()),
                **({"holdout": int(list_hold.sum())} if holdout > 0 else {})},
            "unresolved_recommendation_ids": int(unresolved["RECOMMENDATION_ID"].n_unique()),
            "unresolved_events": unresolved.height,
            "watch_events_on_uncatalogued_items": interactions.filter(
                (pl.col("EVENT_TYPE") == "watch")
                & ~pl.col("ITEM_ID").is_in(items["ITEM_ID"].implode())).height,
        },
    }
    return {"interactions": interactions, "items": items, "recommendations": recommendations,
            "users": users_dataset, "truth": truth}


def generate_sample(
    out: str | Path, *, seed: int = D.SEED, days: int = 14, users: int = 20_000,
    lift: float = B_LIFT, holdout: float = HOLDOUT_SHARE,
) -> SamplePaths:
    """Write the sample to ``out``: ``interactions.csv``, ``items.csv``, ``recommendations.csv``,
    ``users.csv`` (the Users dataset), ``metric_attribution.json`` and ``truth.json``, all at
    once or (a full disk) none.

    Example:
        >>> import tempfile
        >>> paths = generate_sample(tempfile.mkdtemp(), seed=1, days=1, users=200)
        >>> sorted(p.name for p in vars(paths).values())[-3:]
        ['recommendations.csv', 'truth.json', 'users.csv']
    """
    out = Path(out)
    frames = generate_frames(seed=seed, days=days, users=users, lift=lift, holdout=holdout)
    paths = SamplePaths(out / "interactions.csv", out / "items.csv", out / "recommendations.csv",
                        out / "metric_attribution.json", out / "truth.json", out / "users.csv")
    with together():  # the six files appear together, or none of them does
        write_frame(paths.interactions, frames["interactions"])
        write_frame(paths.users, frames["users"])
        write_frame(paths.items, frames["items"])
        write_frame(paths.recommendations, frames["recommendations"])
        atomic_write_text(paths.metric_attribution,
                          json.dumps(metric_attribution_dict(), indent=2) + "\n")
        atomic_write_text(paths.truth, json.dumps(frames["truth"], indent=2) + "\n")
    return paths


def simulate_windows(
    *,
    seed: int = D.SEED,
    days: int = 7,
    lift: float = 0.0,
    lists_per_window: float = 150.0,
    clicks_per_list: float = CLICKS_PER_LIST_A,
    shock_sd: float = 0.15,
    shock_ar: float = 0.8,
) -> dict[str, pl.DataFrame]:
    """The sample's two recommenders at the window level, fast enough for thousands of runs.

    The same process as :func:`generate_frames`, aggregated: lists served per window follow the
    daily cycle and are split between A and B by user randomisation; clicks are Poisson per list
    with B's rate ``1 + lift`` times A's. Traffic and click-through both carry a common
    multiplicative shock that is AR(1) over windows (``shock_ar``), as real traffic does, so
    windows are autocorrelated.

    Returns:
        ``windows`` (the tidy windowed frame, metric ``CLICKS``) and ``exposure``.

    Example:
        >>> sim = simulate_windows(seed=1, days=1)
        >>> sim["windows"]["source"].unique().sort().to_list() == sorted([RECOMMENDER_A, RECOMMENDER_B])
        True
    """
    rng = np.random.default_rng(seed)
    n = days * 96
    minutes = (np.arange(n) % 96) * 15
    cycle = 1.0 + 0.8 * np.sin(2 * np.pi * (minutes / 60.0 - 14.0) / 24.0)

    def ar1() -> np.ndarray:
        e = rng.normal(0, shock_sd * np.sqrt(1 - shock_ar**2), n)
        x = np.empty(n)
        x[0] = rng.normal(0, shock_sd)
        for i in range(1, n):  # n is a few thousand windows at most
            x[i] = shock_ar * x[i - 1] + e[i]
        return np.exp(x - shock_sd**2 / 2)

    lists = rng.poisson(lists_per_window * cycle * ar1())
    lists_b = rng.binomial(lists, 0.5)
    lists_a = lists - lists_b
    ctr = clicks_per_list * ar1()
    clicks_a = rng.poisson(lists_a * ctr)
    clicks_b = rng.poisson(lists_b * ctr * (1 + lift))
    ts = START + np.arange(n, dtype=np.int64) * 900
    windows = pl.DataFrame({
        "timestamp": np.concatenate([ts, ts]),
        "metric_name": "CLICKS", "event_type": "CLICK", "math_function": "samplecount",
        "source": [RECOMMENDER_A] * n + [RECOMMENDER_B] * n,
        "value": np.concatenate([clicks_a, clicks_b]).astype(float),
    }).filter(pl.col("value") > 0)
    exposure = pl.DataFrame({
        "timestamp": np.concatenate([ts, ts]),
        "source": [RECOMMENDER_A] * n + [RECOMMENDER_B] * n,
        "exposure": np.concatenate([lists_a, lists_b]).astype(float),
    }).filter(pl.col("exposure") > 0)
    return {"windows": windows, "exposure": exposure}
