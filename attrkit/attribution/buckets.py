"""Inputs larger than a chunk, a bucket at a time, so that memory holds one bucket's work and
not every event or every recommendation served.

A first pass types the events and the log once and writes their valid rows to temporary
Parquet files, one per bucket: an event goes to the bucket of its recommendation ID (so its
log entry is in the same bucket), an event without one to the bucket of its row hash (so an
exact copy is in the same bucket). Each bucket is then attributed on its own — sources, windows,
duplicates, unresolved IDs, per-user values — and the partial results added up: groups are
summed again downstream (exact decimals, in any order), and duplicates and unresolved IDs never
span buckets. The exposure is aggregated from the whole log in one streaming pass.

When the log has ``USER_ID``, the per-user data is added up by buckets of users instead: the
log's users, times and sources are written again by a hash of the user, each bucket of events
writes its per-user values the same way, and then each bucket of users gives its assignment,
values, recommendations served and traffic, stored on disk
(:class:`~attrkit.attribution.stored_users.StoredUserData`). Memory holds a bucket of events,
then a bucket of users, never every user. The bytes of the result are those of the one-pass
run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from attrkit.attribution import plan
from attrkit.attribution.config import MetricAttribution
from attrkit.attribution.health import unlogged_users
from attrkit.attribution.sources import log_keys
from attrkit.attribution.stored_users import (
    USER_BUCKET,
    Folder,
    StoredUserData,
    user_bucket,
    write_bucket,
)
from attrkit.errors import AttrkitError, named_os_error

BUCKET = "__attrkit_bucket"
BAD = "__attrkit_bad"


class NeedsOnePass(Exception):  # noqa: N818 - a signal, not an error
    """A bucket's log repeats a recommendation ID (the one-pass run says which row, exactly),
    or no event is valid (the one pass gives the empty outputs)."""


@dataclass(frozen=True)
class Buckets:
    """The added-up outputs of every bucket, as the one-pass run's ``out`` has them, and the
    counts that are not added from groups."""

    out: dict[str, pl.DataFrame]
    valid_rows: int
    duplicates: int
    unassigned: int
    """Recommendations in the log without a user."""
    users: StoredUserData | None = None
    """The per-user data, when the log has users (stored by buckets of users)."""
    unlogged: tuple[int, int] | None = None
    """Users with events that the log does not know, and their events served by its sources
    (:func:`~attrkit.attribution.health.unlogged_users`), with :attr:`users`."""


def bucket_of(columns: list[str], has_ids: bool, n: int) -> pl.Expr:
    """The bucket of each typed row: its recommendation ID's, else its row hash's."""
    by_row = plan.row_hash(columns)
    if not has_ids:
        return (by_row % n).alias(BUCKET)
    rec = pl.col("RECOMMENDATION_ID")
    return (pl.when(rec.is_not_null()).then(rec.hash(seed=11)).otherwise(by_row) % n).alias(BUCKET)


def run(ma: MetricAttribution, typed: plan.Typed, opts: plan.Options, n: int,
        collect: Callable[[list[pl.LazyFrame]], list[pl.DataFrame]], progress: bool = False
        ) -> Buckets:
    """Attribute the valid events of ``typed`` in ``n`` buckets (see the module's docstring)."""
    events = typed.valid("interactions")
    columns = [c for c in events.collect_schema().names() if c != plan.POS]
    has_ids = "RECOMMENDATION_ID" in columns
    log_plan = (plan.valid(typed.small_plans["recommendations"])
                if "recommendations" in typed.small_plans else None)
    with tempfile.TemporaryDirectory(prefix="attrkit-buckets-") as tmp:
        folder = Path(tmp)
        _spill(events.with_columns(bucket_of(columns, has_ids, n)), folder / "events")
        sources = None
        if log_plan is not None:
            _spill(log_plan.with_columns((pl.col("RECOMMENDATION_ID").hash(seed=11) % n)
                                         .alias(BUCKET)), folder / "log")
            sources = pl.Enum(collect([log_plan.select(pl.col("SOURCE").drop_nulls().unique()
                                                       )])[0]["SOURCE"].sort())
        by_user = log_plan is not None and "USER_ID" in log_plan.collect_schema()
        u = _spill_log_by_user(folder, opts, collect) if by_user else 0
        parts, valid_rows, duplicates, user_values = [], 0, 0, None
        for k in _progress(range(n), progress):
            part = _bucket(ma, typed, opts, folder, k, sources, log_plan, collect)
            if part is not None:
                outputs, rows, copies = part
                if by_user:  # to disk, by the user's bucket: added up a bucket of users at a time
                    user_values = outputs.pop("user_values")
                    _spill(user_values.lazy().with_columns(user_bucket(u)),
                           folder / "user_values" / str(k), USER_BUCKET)
                parts.append(outputs)
                valid_rows, duplicates = valid_rows + rows, duplicates + copies
        if not parts:
            raise NeedsOnePass
        out = plan.add_up(parts)
        unassigned, users, unlogged = 0, None, None
        if log_plan is not None:
            logged = {"exposure": plan.exposure_plan(log_plan, opts.window_seconds,
                                                     opts.window_origin)}
            if by_user:
                logged["unassigned"] = log_plan.select(pl.col("USER_ID").null_count())
            out |= dict(zip(logged, collect(list(logged.values())), strict=True))
            unassigned = int(out.pop("unassigned").item()) if "unassigned" in out else 0
        if by_user and user_values is not None:
            columns = log_plan.select("USER_ID", "TIMESTAMP", "SOURCE").collect_schema()
            users, out["traffic"], unlogged = _users(ma, folder, u, user_values.clear(),
                                                     columns, unassigned, collect, progress)
    return Buckets(out, valid_rows, duplicates, unassigned, users, unlogged)


USER_BUCKET_ROWS = 1_000_000
"""Log rows per bucket of users, at most: what memory holds of the per-user data at a time
(a smaller ``chunk_rows`` makes smaller buckets, up to 8 of them)."""


def _spill_log_by_user(folder: Path, opts: plan.Options,
                       collect: Callable[[list[pl.LazyFrame]], list[pl.DataFrame]]) -> int:
    """The typed log's users, times and sources (read back from its buckets), written again
    by the user's bucket; how many buckets of users."""
    files = sorted((folder / "log").glob("*/*.parquet"))
    if not files:  # no valid log row: one empty bucket
        return 1
    log = pl.scan_parquet(files, hive_partitioning=False)
    rows = collect([log.select(pl.len())])[0].item()
    u = min(max(8, -(-rows // USER_BUCKET_ROWS)),
            max(1, -(-rows // min(opts.chunk_rows, USER_BUCKET_ROWS))))
    _spill(log.select("USER_ID", "TIMESTAMP", "SOURCE").with_columns(user_bucket(u)),
           folder / "users_log", USER_BUCKET)
    return u


def _users(ma: MetricAttribution, folder: Path, u: int, no_values: pl.DataFrame,
           log_schema: pl.Schema, unassigned: int,
           collect: Callable[[list[pl.LazyFrame]], list[pl.DataFrame]], progress: bool = False
           ) -> tuple[StoredUserData, pl.DataFrame, tuple[int, int]]:
    """The per-user data, a bucket of users at a time, stored on disk; the log's traffic per
    source and the users with events that the log does not know (both add up over buckets:
    no user is in two)."""
    store = Folder()
    traffic, unlogged = [], (0, 0)
    for b in _progress(range(u), progress, "adding up users"):
        part = f"{USER_BUCKET}={b}"
        files = sorted((folder / "user_values").glob(f"*/{part}/*.parquet"))
        values = pl.read_parquet(files) if files else no_values
        logs = sorted((folder / "users_log" / part).glob("*.parquet"))
        log = (pl.scan_parquet(logs, hive_partitioning=False) if logs
               else pl.LazyFrame(schema=log_schema)).drop(USER_BUCKET, strict=False)
        plans = plan.log_user_plans(log)
        got = dict(zip(plans, collect(list(plans.values())), strict=True))
        write_bucket(store, b, plan.user_data(ma, {"user_values": values, **got}, unassigned,
                                              sort=False))
        traffic.append(got["traffic"])
        unlogged = tuple(x + y for x, y in zip(unlogged, unlogged_users(values, got["assignment"]),
                                                strict=True))
    added = (pl.concat(traffic).group_by("source")
             .agg(pl.col("users", "recommendations").sum().cast(pl.Int64)))
    return StoredUserData(store, u, unassigned), added, unlogged


def _spill(frame: pl.LazyFrame, folder: Path, key: str = BUCKET) -> None:
    """Write ``frame`` as Parquet parts by bucket under ``folder`` (in the system's temporary
    folder); a full disk there is named, with where to point attrkit instead."""
    try:
        # (written once and read once: lz4 is 10% faster a run than polars' zstd, for 23
        # bytes an event on disk instead of 16)
        frame.sink_parquet(pl.PartitionBy(folder, key=key, include_key=False), compression="lz4")
    except Exception as exc:
        named = named_os_error(exc, folder)
        if named is None:
            raise
        raise AttrkitError(f"{tempfile.gettempdir()}: {named.strerror.lower()} while writing the "
                           "temporary buckets of a large input; set TMPDIR to a folder on a "
                           "disk with room (about the input's size)") from exc


def _progress(items: range, show: bool, desc: str = "attributing") -> Iterable[int]:
    """``items``, with a bar on stderr when ``show`` (in a terminal)."""
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="bucket", leave=False)


def _bucket(ma: MetricAttribution, typed: plan.Typed, opts: plan.Options, folder: Path, k: int,
            sources: pl.Enum | None, log_plan: pl.LazyFrame | None,
            collect: Callable[[list[pl.LazyFrame]], list[pl.DataFrame]]
            ) -> tuple[dict[str, pl.DataFrame], int, int] | None:
    """One bucket's partial outputs, its valid rows and its duplicates (None: no events)."""
    files = folder / "events" / f"{BUCKET}={k}"
    if not files.exists():
        return None
    events = pl.scan_parquet(files / "*.parquet").with_columns(pl.lit(False).alias(BAD))
    small = {n: df for n, df in typed.small.items() if n != "recommendations"}
    log = None
    if log_plan is not None:
        log_files = folder / "log" / f"{BUCKET}={k}"
        logged = (pl.scan_parquet(log_files / "*.parquet") if log_files.exists()
                  else log_plan.clear().drop(BUCKET, strict=False))
        # What the events' bucket reads of its log: the IDs and their sources. The users'
        # frames come from the log by users (:func:`_users`): a column of nulls (no memory)
        # stands for USER_ID, so that the events' users are kept for their per-user values.
        users = ([pl.lit(None).alias("USER_ID")] if "USER_ID" in logged.collect_schema()
                 else [])
        log = logged.select("RECOMMENDATION_ID", pl.col("SOURCE").cast(pl.String).cast(sources),
                            *users).collect()
        if plan.may_repeat(log["RECOMMENDATION_ID"]) and log["RECOMMENDATION_ID"].drop_nulls(
                ).is_duplicated().any():
            raise NeedsOnePass
        small["recommendations"] = log.with_columns(pl.lit(False).alias(BAD))
    bucket = plan.Typed(events, small, {})
    resolved = plan.resolve_events(ma, bucket, log, opts, log_keys(log) if log is not None
                                   else None)
    plans = plan.aggregate_plans(ma, bucket, resolved, log, events, opts, log_outputs=False)
    out = dict(zip(plans, collect(list(plans.values())), strict=True))
    copies = plan.count_duplicates(out["hashes"], bucket.valid("interactions"), resolved.columns,
                                   collect)
    return out, out.pop("hashes").height, copies
