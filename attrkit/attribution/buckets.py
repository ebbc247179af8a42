"""Inputs larger than a chunk, a bucket at a time, so that memory holds one bucket's work and
not every event or every recommendation served.

A first pass types the events and the log once and writes their valid rows to temporary
Parquet files, one per bucket: an event goes to the bucket of its recommendation ID (so its
log entry is in the same bucket), an event without one to the bucket of its row hash (so an
exact copy is in the same bucket). Each bucket is then attributed on its own — sources, windows,
duplicates, unresolved IDs, per-user values — and the partial results added up: groups are
summed again downstream (exact decimals, in any order), and duplicates and unresolved IDs never
span buckets. What the log alone gives (exposure, traffic, assignment) is aggregated from the
whole log in one streaming pass. The bytes of the result are those of the one-pass run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from attrkit.attribution import plan
from attrkit.attribution.config import MetricAttribution
from attrkit.attribution.sources import log_keys
from attrkit.errors import AttrkitError, named_os_error

BUCKET = "__attrkit_bucket"
BAD = "__attrkit_bad"


class NeedsOnePass(Exception):  # noqa: N818 - a signal, not an error
    """A bucket's log repeats a recommendation ID: the one-pass run says which row, exactly."""


@dataclass(frozen=True)
class Buckets:
    """The added-up outputs of every bucket, as the one-pass run's ``out`` has them, and the
    counts that are not added from groups."""

    out: dict[str, pl.DataFrame]
    valid_rows: int
    duplicates: int
    unassigned: int
    """Recommendations in the log without a user."""


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
        parts, valid_rows, duplicates = [], 0, 0
        for k in _progress(range(n), progress):
            part = _bucket(ma, typed, opts, folder, k, sources, log_plan, collect)
            if part is not None:
                outputs, rows, copies = part
                parts.append(outputs)
                valid_rows, duplicates = valid_rows + rows, duplicates + copies
    out = plan.add_up(parts) if parts else {}
    unassigned = 0
    if log_plan is not None:
        logged = {"exposure": plan.exposure_plan(log_plan, opts.window_seconds,
                                                 opts.window_origin)}
        if "USER_ID" in log_plan.collect_schema():
            logged |= plan.log_user_plans(log_plan)
            logged["unassigned"] = log_plan.select(pl.col("USER_ID").null_count())
        out |= dict(zip(logged, collect(list(logged.values())), strict=True))
        unassigned = int(out.pop("unassigned").item()) if "unassigned" in out else 0
    return Buckets(out, valid_rows, duplicates, unassigned)


def _spill(frame: pl.LazyFrame, folder: Path) -> None:
    """Write ``frame`` as Parquet parts by bucket under ``folder`` (in the system's temporary
    folder); a full disk there is named, with where to point attrkit instead."""
    try:
        frame.sink_parquet(pl.PartitionBy(folder, key=BUCKET, include_key=False))
    except Exception as exc:
        named = named_os_error(exc, folder)
        if named is None:
            raise
        raise AttrkitError(f"{tempfile.gettempdir()}: {named.strerror.lower()} while writing the "
                           "temporary buckets of a large input; set TMPDIR to a folder on a "
                           "disk with room (about the input's size)") from exc


def _progress(items: range, show: bool) -> Iterable[int]:
    """``items``, with a bar on stderr when ``show`` (in a terminal)."""
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="attributing", unit="bucket", leave=False)


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
        log = (pl.read_parquet(log_files / "*.parquet") if log_files.exists()
               else log_plan.clear().collect().drop(BUCKET, strict=False))
        log = log.with_columns(pl.col("SOURCE").cast(pl.String).cast(sources))
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
