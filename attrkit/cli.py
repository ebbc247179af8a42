"""The ``attrkit`` command line.

Exit codes: 0 success; 2 bad usage, bad input or a refusing environment (one line on stderr);
1 a bug in attrkit (its traceback); 141 stdout closed early (quietly); 3 to 8 an alarm of
``attrkit compare --fail-on`` fired (:data:`~attrkit.defaults.ALARMS`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from attrkit import defaults as D
from attrkit.errors import explain, first_line, one_line


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # a relative date (-7d, -2w) is a value, as a negative number is, never an option
        self._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-\d+[dw]$", re.I)

    def error(self, message: str) -> None:  # argparse's own usage errors also exit 2
        command = self.prog.split(" ", 1)[1] + ": " if " " in self.prog else ""
        self.exit(2, f"attrkit: error: {command}{one_line(message)}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _input_options(a: argparse.ArgumentParser, *, required: bool) -> None:
    """The options that name raw inputs and how they are attributed (attribute, compare)."""
    a.add_argument("--interactions", required=required,
                   help="interactions: .csv (Personalize bulk), .parquet, .jsonl (PutEvents); "
                   "a file, a folder, a glob ('events/2026-11-*.parquet'), or "
                   "s3://bucket/key, s3://bucket/prefix/ or an s3:// pattern")
    a.add_argument("--items", help="items: .csv or .parquet; a file, folder, glob or s3://")
    a.add_argument("--recommendations",
                   help="recommendations log: .csv or .parquet; a file, folder, glob or s3://")
    a.add_argument("--metric-attribution", required=required,
                   help="metric attribution JSON (CreateMetricAttribution request shape)")
    a.add_argument("--window-seconds", type=_positive, default=D.WINDOW_SECONDS,
                   help="window length in seconds (default %(default)s)")
    a.add_argument("--window-origin", type=int, default=D.WINDOW_ORIGIN,
                   help="windows start at origin + k * length, Unix seconds (default 0)")
    a.add_argument("--dedupe", action="store_true", help="remove exact duplicate events")
    a.add_argument("--low-memory", action="store_true",
                   help="read the events twice, holding less at a time (slower)")
    a.add_argument("--on-bad-rows", choices=("error", "quarantine"), default="error",
                   help="stop at the first bad row (default) or quarantine bad rows and go on")
    a.add_argument("--max-sources", type=_positive, default=D.MAX_SOURCES,
                   help="most distinct sources allowed (default %(default)s)")
    a.add_argument("--timestamp-unit", choices=("s", "ms"), default="s",
                   help="unit of TIMESTAMP columns (default s)")
    a.add_argument("--engine", choices=("polars", "spark"), default="polars",
                   help="polars: embedded, on this machine (default); spark: Apache Spark "
                   "(pip install 'attrkit[spark]'), the same report byte for byte")
    a.add_argument("--spark-master", metavar="URL",
                   help="Spark master for --engine spark (default local[2]; e.g. yarn, "
                   "spark://host:7077)")
    a.add_argument("--spark-remote", metavar="URL",
                   help="Spark Connect server for --engine spark (sc://HOST:PORT; Databricks, "
                   "Spark 4); instead of --spark-master")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="attrkit", description="Metric attribution for recommendation "
                     "sources: Personalize-compatible reports, offline.")
    from attrkit import __version__
    parser.add_argument("--version", action="version", version=f"attrkit {__version__}")
    parser.add_argument("--endpoint-url", help="AWS endpoint URL for S3, CloudWatch and "
                        "Personalize (an S3-compatible store, a local endpoint)")
    parser.add_argument("--region", help="AWS region (default: boto3's configuration)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("sample", help="write the seeded video-streaming sample data",
                       description="Write interactions.csv, items.csv, recommendations.csv, "
                       "users.csv (the Users dataset: segments), metric_attribution.json and "
                       "truth.json (the planted effects) to --out.")
    s.add_argument("--out", required=True, help="folder to write into")
    s.add_argument("--seed", type=int, default=D.SEED, help="random seed (default %(default)s)")
    s.add_argument("--days", type=_positive, default=14, help="days of traffic (default 14)")
    s.add_argument("--users", type=_positive, default=20_000,
                   help="number of users (default 20000)")

    a = sub.add_parser("attribute", help="attribute events to sources and write the S3 report",
                       description="Resolve each event's source, aggregate the metrics in "
                       "windows, write the service's S3 report CSV and print the health summary.")
    _input_options(a, required=True)
    a.add_argument("--out", required=True,
                   help="report file path, or a folder (existing, or ending in /) to write "
                   "the service's file name into; s3://bucket/key or s3://bucket/prefix/ too")
    a.add_argument("--import-mode", choices=("FULL", "INCREMENTAL"), default=D.IMPORT_MODE,
                   help="the <ImportMode> in the report's file name (default %(default)s)")
    a.add_argument("--users-out", metavar="PATH",
                   help="also write each user's arm and metrics (a row per user and metric: "
                   "USER_ID, arm, metric_name, value, served, total) as Parquet: one file, or "
                   "with --engine spark a folder written by the executors; needs a "
                   "recommendations log with USER_ID")
    a.add_argument("--quarantine-out", metavar="PATH",
                   help="with --engine spark and --on-bad-rows quarantine: a folder the "
                   "executors write the bad rows into as CSV parts, each with the header, "
                   "passed to Spark untouched (s3a://, abfss://, gs://, hdfs://; for a "
                   "cluster, whose executors cannot write beside a local report); default: "
                   "one file beside the report")
    r = sub.add_parser("report", help="run a report notebook and render it to HTML",
                       description="Run a parameterized report notebook with papermill and "
                       "write DIR/NAME.ipynb, DIR/NAME.html (no code, self-contained), "
                       "DIR/NAME.json (parameters and key results) and DIR/index.html.")
    r.add_argument("template", nargs="?", default=None,
                   help="template name or .ipynb path (default attribution_report)")
    r.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="set a parameter (repeatable)")
    r.add_argument("--params-file", type=Path, help="YAML file of parameters")
    r.add_argument("--out", required=True, type=Path, help="folder to write into")
    r.add_argument("--name", help="run name: the files' stem (default: the template's name)")
    r.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's)")
    r.add_argument("--publish", metavar="S3_PREFIX",
                   help="upload the HTML and JSON to s3://bucket/prefix/ and print a "
                   "presigned URL")
    r.add_argument("--expires", type=_positive, default=7 * 24 * 3600,
                   help="presigned URL lifetime in seconds (default 7 days)")

    c = sub.add_parser("compare", help="compare sources: the table, as text, CSV or JSON",
                       description="Compare sources as attrkit.compare does, on a report CSV "
                       "(attrkit's or the service's) or on raw inputs (the options of attrkit "
                       "attribute), and print the table; --format csv or json prints exactly "
                       "the columns of compare(...).frame. --fail-on turns checks into exit "
                       "codes for a scheduler: " + ", ".join(
                           f"{n} {code}" for n, (code, _) in D.ALARMS.items())
                       + " (the first named that fired); 0 when none fired.")
    c.add_argument("--report", help="report CSV (attrkit's or the service's), a folder of them, "
                   "s3://bucket/key or s3://bucket/prefix/; instead of --interactions")
    _input_options(c, required=False)
    c.add_argument("--baseline", help="the control source, as the report names it (top-picks); "
                   "default: every pair")
    c.add_argument("--sources", help="sources to compare, comma-separated (default all)")
    c.add_argument("--metrics", help="metrics to compare, comma-separated (default all)")
    c.add_argument("--design", choices=("users", "requests", "observational"),
                   help="how sources were assigned (default users when the log has USER_ID, "
                   "else undeclared: window-level results without verdicts)")
    c.add_argument("--alpha", type=_share, default=D.ALPHA,
                   help="significance level, between 0 and 1 (default %(default)s)")
    c.add_argument("--correction", default=D.CORRECTION, choices=D.CORRECTIONS,
                   help="p-value adjustment across the tested comparisons (default %(default)s)")
    c.add_argument("--start", help="first window compared: ISO date-time in UTC "
                   "(2026-11-23) or relative (-7d: midnight UTC seven days before today)")
    c.add_argument("--end", help="compare windows before this: ISO date-time in UTC or "
                   "relative (today: midnight UTC today)")
    c.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table: for a terminal (default); csv, json: compare(...).frame's "
                   "columns on stdout (JSON: a list of rows, NaN and infinities as null)")
    c.add_argument("--fail-on", metavar="ALARMS", action="append",
                   help="comma-separated alarms that end the run with their exit code "
                   "(repeatable): " + ", ".join(D.ALARMS))
    c.add_argument("--max-unattributed", type=float, default=D.MAX_UNATTRIBUTED_SHARE,
                   help="the unattributed alarm's (and warning's) threshold: share of the first "
                   "metric with no source (default %(default)s)")
    c.add_argument("--holdout", metavar="SOURCE",
                   help="an arm served a non-personalised list: every other arm's total per "
                   "assigned user (all sources and organic events) against it, the incremental "
                   "effect, beside what attribution credits the arm with; printed after the "
                   "table")
    c.add_argument("--cuped", choices=("auto", "off"), default="auto",
                   help="with --start and per-user data: auto uses each user's metric on the "
                   "days before --start as a covariate (CUPED) when the data holds at least 7 "
                   "of them and nobody was served before --start; off never does "
                   "(default auto)")
    c.add_argument("--segments", metavar="COLUMN",
                   help="also compare within each value of COLUMN (per assigned user, the "
                   "correction across segments, Cochran's Q for a difference between them): a "
                   "column of --user-metadata, else of the interactions (each user's value on "
                   "their first event); printed after the table, or with --format csv/json the "
                   "segment rows instead of the table")
    c.add_argument("--user-metadata", metavar="PATH",
                   help="Personalize's Users dataset (USER_ID and metadata columns), CSV or "
                   "Parquet, local or s3://: where --segments is looked up first")

    pub = sub.add_parser("publish", help="publish a report to a destination",
                         description="Publish a report's windows elsewhere.")
    pub_sub = pub.add_subparsers(dest="target", required=True, parser_class=_Parser)
    cw = pub_sub.add_parser("cloudwatch", help="send a report CSV's windows to CloudWatch",
                            description="Send a report CSV's windows to CloudWatch with "
                            "PutMetricData (period 900, dimensions EventAttributionSource and "
                            "DatasetGroupArn). Re-publishing the same report adds nothing.")
    cw.add_argument("--report", required=True,
                    help="report CSV file, folder, s3://bucket/key or s3://bucket/prefix/")
    cw.add_argument("--namespace", required=True,
                    help="your CloudWatch namespace (AWS/ is reserved)")
    cw.add_argument("--dataset-group-arn", required=True, help="the DatasetGroupArn dimension")

    ix = sub.add_parser("index", help="rebuild a folder's index.html of report runs",
                        description="Write DIR/index.html: the latest answer, each metric's "
                        "headline lift across runs, every run's window, design, comparisons and "
                        "warnings. Notebooks executed into DIR by papermill itself (Airflow's "
                        "PapermillOperator) first get the HTML, JSON and comparison table that "
                        "attrkit report writes.")
    ix.add_argument("folder", type=Path, help="the folder of report runs")

    lab = sub.add_parser("lab", help="JupyterLab on a folder of notebooks, with attrkit's kernel",
                         description="Install the 'attrkit' Jupyter kernel into this "
                         "environment and start JupyterLab on FOLDER; prints the URL (with its "
                         "token) once the server answers. As root it passes --allow-root; in a "
                         "container it listens on every interface (a mapped port reaches it), "
                         "elsewhere on 127.0.0.1. Kernel traffic is encrypted (CurveZMQ).")
    lab.add_argument("folder", nargs="?", default=".", help="folder of notebooks (default .)")
    lab.add_argument("--port", type=_positive, default=8888, help="port (default %(default)s)")
    lab.add_argument("--ip", help="address to listen on (default 127.0.0.1; 0.0.0.0 in a "
                     "container)")

    q = sub.add_parser("params", help="list a report template's parameters",
                       description="List the parameters of a report template with their "
                       "types, defaults and help.")
    q.add_argument("template", nargs="?", default=None,
                   help="template name or .ipynb path (default attribution_report)")
    return parser


def read_params(path: Path) -> dict:
    """A YAML file of report parameters: a mapping of names to plain values. Aliases (``&a`` /
    ``*a``) are refused: parameters never need them, and nested ones expand without bound."""
    import yaml

    from attrkit.errors import ConfigError
    from attrkit.storage import read_small

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise ConfigError(f"{path}, line {mark.line + 1}: YAML aliases (*name) are not "
                                  "allowed in a parameters file; write the value out")
            return super().compose_node(parent, index)

    try:
        loaded = yaml.load(read_small(path, str(path)), Loader=Loader) or {}  # noqa: S506
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except ConfigError:
        raise
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not a readable YAML file ({first_line(exc)})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of parameter names to values")
    return loaded


def _report(args: argparse.Namespace) -> int:
    from attrkit import storage
    from attrkit.errors import ConfigError, ReportError
    from attrkit.reports.run import run_report

    given: dict = {}
    if args.params_file is not None:
        given.update(read_params(args.params_file))
    given.update(dict(args.parameter))
    if args.publish and not storage.is_remote(args.publish):
        raise ConfigError(f"--publish {args.publish}: expected s3://bucket/prefix/")
    progress = sys.stderr.isatty()
    try:
        with _kernel_output_to_log():
            run = run_report(args.template, given, args.out, name=args.name,
                             kernel=args.kernel, progress=progress)
    except ReportError as exc:
        print(f"attrkit: report failed: {one_line(str(exc))}", file=sys.stderr)
        return 2 if exc.bad_input else 1
    print(f"report: {one_line(str(run.html))}")
    print(f"notebook: {one_line(str(run.notebook))}")
    print(f"results: {one_line(str(run.json))}")
    print(f"index: {one_line(str(run.index))}")
    if run.exports:
        print("comparison: " + ", ".join(one_line(str(p)) for p in run.exports))
    _answer(run.json)
    if args.publish:
        prefix = args.publish if args.publish.endswith("/") else args.publish + "/"
        html_url = storage.put(run.html, prefix, content_type="text/html; charset=utf-8")
        storage.put(run.json, prefix, content_type="application/json")
        print(f"published: {one_line(html_url)}")
        link = storage.share_link(html_url, expires=args.expires)
        print(f"share (expires in {args.expires} s): {link}")
    return 0


@contextlib.contextmanager
def _kernel_output_to_log() -> Iterator[None]:
    """The notebook kernel's own output to ``$TMPDIR/attrkit-kernel-<pid>.log``, not the
    terminal: a kernel stopped after a failed cell can log tornado's "Socket operation on
    non-socket". attrkit's own stderr (the progress bar) still goes to the terminal;
    ``ATTRKIT_DEBUG=1`` leaves everything there."""
    if os.environ.get("ATTRKIT_DEBUG"):
        yield
        return
    from attrkit.storage.local import children_stderr_to

    with children_stderr_to("kernel", drop_empty=True):
        yield


def _answer(record: Path) -> None:
    """Each metric's primary comparison, as the index shows it, one line each."""
    import json

    from attrkit.reports import history, render

    run = history.read_run(json.loads(record.read_text(encoding="utf-8")))
    for h in run.headlines:
        print(f"answer: {one_line(render.headline_text(h, run.alpha))}")


def _publish(args: argparse.Namespace) -> int:
    from attrkit.personalize import service as aws
    from attrkit.personalize.report_csv import read_report

    windows = read_report(args.report)
    sent = aws.publish_cloudwatch(windows, namespace=args.namespace,
                                  dataset_group_arn=args.dataset_group_arn)
    print(f"sent {sent:,} data points to CloudWatch namespace {args.namespace} "
          f"({windows.height:,} windows in the report; points already stored are not re-sent)")
    return 0


def _index(args: argparse.Namespace) -> int:
    from attrkit.errors import ConfigError
    from attrkit.reports.run import record_notebooks, write_index

    if not args.folder.is_dir():
        raise ConfigError(f"{args.folder}: folder not found")
    written, skipped = record_notebooks(args.folder)
    for path in written:
        print(f"recorded: {one_line(str(path))}")
    for line in skipped:
        print(f"not recorded: {one_line(line)}")
    print(f"index: {one_line(str(write_index(args.folder)))}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    from attrkit.reports import lab

    return lab.run(args.folder, port=args.port, ip=args.ip)


def _params(args: argparse.Namespace) -> int:
    from attrkit.reports.run import parameters, template_path

    path = template_path(args.template)
    found = parameters(path).values()  # read first: a bad template prints nothing to stdout
    print(f"{one_line(path.stem)} ({one_line(str(path))}):")
    for p in found:
        print(f"  {p.name} ({p.type}, default {p.default!r})\n      {p.help}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from attrkit.errors import ConfigError
    from attrkit.simulate.sample import generate_sample

    if not args.out.strip():
        raise ConfigError("--out: empty; name a folder to write the sample into")
    t0 = time.perf_counter()
    paths = generate_sample(args.out, seed=args.seed, days=args.days, users=args.users)
    print(f"sample written to {one_line(str(args.out))} in {time.perf_counter() - t0:.1f} s:")
    for name in ("interactions", "items", "recommendations", "users", "metric_attribution",
                 "truth"):
        print(f"  {one_line(str(getattr(paths, name)))}")
    return 0


def quarantine_name(report: str | Path) -> str:
    """The quarantine file's name, for beside the report: ``<report stem>.quarantine.csv``."""
    return Path(str(report).rsplit("/", 1)[-1]).stem + ".quarantine.csv"


def _input_files(paths: list[str]) -> list[str]:
    """The inputs and every local file they name (a folder's or a pattern's files)."""
    from attrkit import storage

    files = list(paths)
    for p in paths:
        if not storage.is_remote(p) and (storage.is_folder(p) or storage.is_pattern(p)):
            files += [str(f) for _, f in storage.expand(p, (".csv", ".parquet", ".pq", ".jsonl",
                                                            ".ndjson", ".json"))]
    return files


def _spark(args: argparse.Namespace) -> object:
    """The Spark session for ``--engine spark`` (None for the embedded engine)."""
    if args.engine != "spark":
        for option in ("spark_master", "spark_remote"):
            if getattr(args, option):
                from attrkit.errors import ConfigError

                raise ConfigError(f"--{option.replace('_', '-')}: only with --engine spark")
        return None
    from attrkit.attribution.spark import session

    return session(master=args.spark_master, remote=args.spark_remote)


def _attributed(args: argparse.Namespace) -> object:
    """:func:`attrkit.attribute` on the raw inputs and options of :func:`_input_options`."""
    from attrkit.attribution.engine import attribute

    return attribute(
        args.interactions, args.metric_attribution, items=args.items,
        recommendations=args.recommendations, window_seconds=args.window_seconds,
        window_origin=args.window_origin, dedupe=args.dedupe, on_bad_rows=args.on_bad_rows,
        max_sources=args.max_sources, timestamp_unit=args.timestamp_unit,
        low_memory=args.low_memory, progress=sys.stderr.isatty(), engine=args.engine,
        spark=_spark(args))


def _attribute(args: argparse.Namespace) -> int:
    from attrkit import storage
    from attrkit.errors import ConfigError

    t0 = time.perf_counter()
    if not args.out.strip():
        raise ConfigError("--out: empty; name a report file or a folder")
    inputs = _input_files([p for p in (args.interactions, args.items, args.recommendations,
                                       args.metric_attribution) if p])
    if not storage.is_folder(args.out):
        for target in (args.out, storage.sibling(args.out, quarantine_name(args.out))):
            if storage.same_file(target, inputs):
                raise ConfigError(f"--out {args.out}: {target} is one of the inputs; attrkit "
                                  "never overwrites its input")
    if args.quarantine_out and (args.engine != "spark" or args.on_bad_rows != "quarantine"):
        raise ConfigError("--quarantine-out: only with --engine spark and --on-bad-rows "
                          "quarantine (the embedded engine writes the quarantine beside the "
                          "report)")
    if args.quarantine_out and storage.same_file(args.quarantine_out, inputs):
        raise ConfigError(f"--quarantine-out {args.quarantine_out}: one of the inputs; attrkit "
                          "never overwrites its input")
    if args.users_out and storage.same_file(args.users_out, inputs):
        raise ConfigError(f"--users-out {args.users_out}: one of the inputs; attrkit never "
                          "overwrites its input")
    result = _attributed(args)
    if args.users_out and result.users is None:
        raise ConfigError("--users-out: no per-user data; it needs --recommendations with a "
                          "USER_ID column")
    bad = sum(result.health.quarantined.values())
    with storage.together():  # the report and its quarantine replace the last run's together
        report = result.write_report(args.out, import_mode=args.import_mode)
        qpath = storage.sibling(report, quarantine_name(report))
        if args.quarantine_out:  # (Spark's executors write the parts; checked before the run)
            quarantine = "none"
            if bad:
                result.write_quarantine(args.quarantine_out, parts=True)
                quarantine = f"{one_line(args.quarantine_out)} ({bad:,} rows, CSV parts)"
        elif storage.same_file(qpath, inputs):  # a report name chosen in a folder of inputs
            quarantine = f"not written: {one_line(str(qpath))} is one of the inputs"
        elif bad:
            # beside the report, locally or under the same prefix (on Spark, by the executors)
            qpath = result.write_quarantine(qpath)
            quarantine = f"{one_line(str(qpath))} ({bad:,} rows)"
        elif storage.remove_local(qpath):  # an earlier run's, which this report does not have
            quarantine = f"none; removed the earlier run's {one_line(str(qpath))}"
        else:
            quarantine = None
        if args.users_out:
            result.users.write_parquet(args.users_out)
    print(f"report: {one_line(str(report))} ({result.windows.height:,} rows, "
          f"{time.perf_counter() - t0:.1f} s)")
    if quarantine is not None:
        print(f"quarantine: {quarantine}")
    if args.users_out:
        print(f"users: {one_line(str(args.users_out))}")
    print(result.health.summary())
    return 0


ATTRIBUTE_ONLY = {"items": None, "recommendations": None, "metric_attribution": None,
                  "dedupe": False, "low_memory": False, "on_bad_rows": "error",
                  "max_sources": D.MAX_SOURCES, "timestamp_unit": "s", "engine": "polars",
                  "spark_master": None, "spark_remote": None,
                  "window_seconds": D.WINDOW_SECONDS,
                  "window_origin": D.WINDOW_ORIGIN}
"""Options of raw inputs, and their defaults: with --report they must stay as they are."""


def _compare_inputs(args: argparse.Namespace) -> tuple:
    """The windows, exposure, traffic, users and health that ``attrkit compare`` compares."""
    from attrkit.errors import ConfigError

    if bool(args.report) == bool(args.interactions):
        raise ConfigError("compare: give --report (a report CSV, folder or S3 prefix) or "
                          "--interactions with --metric-attribution" + (
                              ", not both" if args.report else ""))
    if args.report:
        for name, default in ATTRIBUTE_ONLY.items():
            if getattr(args, name) != default:
                raise ConfigError(f"--{name.replace('_', '-')}: applies to --interactions, not "
                                  "to --report (a report is already attributed)")
        from attrkit.personalize.report_csv import read_report

        if args.segments:
            raise ConfigError("--segments: compares users, which a report CSV does not have; "
                              "give --interactions and a --recommendations log with USER_ID")
        return read_report(args.report), None, None, None, None, None
    if not args.metric_attribution:
        raise ConfigError("--metric-attribution: required with --interactions (the "
                          "CreateMetricAttribution JSON that names the metrics)")
    result = _attributed(args)
    seg = None
    if args.segments:
        from attrkit.comparison.segments import segmentation

        seg = segmentation(args.segments, user_metadata=args.user_metadata,
                           interactions=result.interactions, timestamp_unit=result.timestamp_unit)
    return result.windows, result.exposure, result.traffic, result.users, result.health, seg


def _names(text: str | None, known: list[str], option: str) -> list[str] | None:
    from attrkit.names import resolve_source

    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    return [resolve_source(n, known, option) for n in names] or None


def _compare(args: argparse.Namespace) -> int:
    from attrkit.attribution.windows import between
    from attrkit.comparison import alarms, compare
    from attrkit.errors import AttrkitError, ConfigError

    fail_on = alarms.parse(",".join(args.fail_on)) if args.fail_on is not None else []
    if args.user_metadata and not args.segments:
        raise ConfigError("--user-metadata: used by --segments; name the column to compare "
                          "within")
    windows, exposure, traffic, users, health, seg = _compare_inputs(args)
    until_end = between(windows, exposure, users, None, args.end) if args.start else None
    windows, exposure, users = between(windows, exposure, users, args.start, args.end)
    known = sorted(set(windows["source"].unique().to_list())
                   | set(users.arms if users is not None else []))
    holdout = _names(args.holdout, known, "--holdout")
    baseline = _names(args.baseline, known, "--baseline")
    if baseline and len(baseline) > 1:
        raise ConfigError(f"--baseline {args.baseline}: name one control source; every other "
                          "source (or those of --sources) is compared with it")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    try:
        given = {"windows": windows, "exposure": exposure, "users": users} | _cuped_options(
            args, windows, exposure, users, until_end)
        table = compare(given.pop("windows"), traffic=traffic, **given,
                        baseline=baseline[0] if baseline else None,
                        sources=_names(args.sources, known, "--sources"), metrics=metrics,
                        design=args.design, alpha=args.alpha, correction=args.correction,
                        max_unattributed=args.max_unattributed, segments=seg,
                        holdout=holdout[0] if holdout else None)
    except AttrkitError as exc:
        # what can still be checked without a comparison (the share of events with no source,
        # the rows' health) is, so that an alarm is not hidden behind the error it explains
        found = alarms.evaluate(fail_on, None, health, args.max_unattributed, windows=windows,
                                metrics=metrics, why=str(exc))
        if not alarms.exit_code(found):
            raise
        print(f"attrkit: error: {one_line(str(exc))}", file=sys.stderr)
    else:
        shown = table.segments.frame if table.segments is not None else table.frame
        if args.format == "csv":
            sys.stdout.write(shown.write_csv())
        elif args.format == "json":
            sys.stdout.write(shown.write_json() + "\n")
        else:
            print(_terminal_table(table))
            if table.incrementality is not None:
                print(_incrementality_text(table))
            if table.segments is not None:
                print(_segments_text(table))
        found = alarms.evaluate(fail_on, table, health, args.max_unattributed,
                                baseline=baseline[0] if baseline else None)
    for alarm in found:
        print(f"attrkit: alarm {one_line(alarm.line())}", file=sys.stderr)
    return alarms.exit_code(found)


def _cuped_options(args: argparse.Namespace, windows: Any, exposure: Any, users: Any,
                   until_end: Any) -> dict[str, Any]:
    """``compare``'s options for CUPED where it is valid (see
    :func:`attrkit.reports.data.cuped_range`)."""
    from attrkit.reports.data import cuped_range

    windows, exposure, users, start = cuped_range((windows, exposure, users), until_end,
                                                  args.start or "", args.cuped)
    if start is None:
        return {}
    return {"windows": windows, "exposure": exposure, "users": users, "start": start}


def _incrementality_text(table: Any) -> str:
    """Each arm against the holdout, a sentence per metric and arm."""
    inc = table.incrementality
    return "\n".join([f"against the holdout ({one_line(inc.holdout)}):"] + [
        "  " + one_line(inc.sentence(m, a), 500)
        for m, a in inc.frame.select("metric", "arm").iter_rows()])


def _segments_text(table: object) -> str:
    """The comparison by segment for a terminal: a line per segment row, then whether the
    lift differs between segments."""
    from attrkit.names import short_label
    from attrkit.reports import render

    seg = table.segments
    f = render.formatter("+.1%")
    lines = [f"by segment ({one_line(seg.segmentation.source)}):"]
    for r in seg.frame.iter_rows(named=True):
        lines.append(one_line(
            f"  {r['segment']}: {r['metric']} {short_label(r['treatment'])} vs "
            f"{short_label(r['control'])}: {f(r['lift'])} [{f(r['lift_ci_low'])}, "
            f"{f(r['lift_ci_high'])}], users {r['control_n']:,}/{r['treatment_n']:,}, "
            + render.verdict(r["significant"], r["lift"], r["tested"], r["method"]), 200))
    for metric, control, treatment in seg.heterogeneity.select(
            "metric", "control", "treatment").iter_rows():
        lines.append(one_line(seg.sentence(metric, control, treatment, table.alpha), 400))
    return "\n".join(lines)


def _terminal_table(table: object) -> str:
    """The comparison for a terminal: one row per comparison, text escaped; then the design
    and the warnings."""
    import polars as pl

    from attrkit.names import short_label
    from attrkit.reports import render

    f, g = render.formatter("+.1%"), render.formatter(".3g")
    names = set(table.frame["control"].to_list()) | set(table.frame["treatment"].to_list())
    short = {n: short_label(n) for n in names}
    if len(set(short.values())) < len(names):  # two sources that look alike: their full names
        short = {n: one_line(n, 200) for n in names}
    rows = [{
        "metric": r["metric"], "compares": (r["kind"] or "").replace("_", " "),
        "treatment vs control": f"{short[r['treatment']]} vs {short[r['control']]}",
        "lift": f(r["lift"]), f"{1 - table.alpha:.0%} CI": f"[{f(r['lift_ci_low'])}, "
        f"{f(r['lift_ci_high'])}]", "p": g(r["p_value"]), "p adjusted": g(r["p_adjusted"]),
        "verdict": render.verdict(r["significant"], r["lift"], r["tested"], r["method"]),
        "chance to win": render.formatter("chance")(r["chance_to_win"]),
        "expected loss": render.formatter("loss")(r["expected_loss"]),
    } for r in table.frame.iter_rows(named=True)]
    shown = pl.DataFrame(rows, orient="row").with_columns(
        pl.all().map_elements(lambda v: one_line(str(v), 120), return_dtype=pl.String))
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=250, fmt_str_lengths=120,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True,
                   tbl_formatting="ASCII_MARKDOWN"):
        text = str(shown) if rows else "no comparisons"
    from attrkit.comparison.results import NO_DESIGN

    design = (table.design_text if table.design is not None else
              "not declared: window-level results assume each request was randomised on its "
              "own, so no verdicts; pass --design requests if so, or --recommendations with a "
              "USER_ID column for a per-user analysis")
    notes = [f"design: {design}", *(f"note: {n}" for n in table.notes),
             *(f"warning: {w}" for w in table.warnings if w != NO_DESIGN)]
    return text + "\n" + "\n".join(one_line(n) for n in notes)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code.

    Every failure of the input or the environment (attrkit's own errors, and the operating
    system's, polars', JSON's, YAML's and Jupyter's) ends in one line on stderr and exit 2;
    anything else is a bug in attrkit: its traceback and exit 1. ``ATTRKIT_DEBUG=1`` shows the
    traceback of every failure. A closed stdout (``attrkit ... | head -1``) ends quietly.
    """
    args = build_parser().parse_args(argv)
    quiet = contextlib.nullcontext() if os.environ.get("ATTRKIT_DEBUG") else _quiet_libraries()
    with quiet, _without_iri_grammars(), _terminated_as_interrupted():
        return _run(args)


class _Terminated(BaseException):
    """SIGTERM (a scheduler's timeout, ``kill``) while a command runs."""


@contextlib.contextmanager
def _terminated_as_interrupted() -> Iterator[None]:
    """While a command runs, SIGTERM ends it as Ctrl-C does: the files it was writing are
    taken back (temporary files, a Spark quarantine's scratch folder) and it exits 143. The
    handler before is put back afterwards (in the main thread only, where signals arrive)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _Terminated

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


# jsonschema (under nbformat and papermill) imports ``rfc3987_syntax`` where it is installed
# (Jupyter's packages install it), and that module builds 39 Earley parsers when imported: 2.7 s
# of every report run, for the "iri" format checks, which no notebook schema uses. While a
# command runs, Python is told the module is absent; jsonschema then goes without those checks.
_IRI_GRAMMARS = "rfc3987_syntax"


@contextlib.contextmanager
def _without_iri_grammars() -> Iterator[None]:
    """:data:`_IRI_GRAMMARS` absent while a command runs, unless something imported it before
    (the entry is taken back afterwards)."""
    blocked = _IRI_GRAMMARS not in sys.modules
    if blocked:
        sys.modules[_IRI_GRAMMARS] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        yield
    finally:
        if blocked and sys.modules.get(_IRI_GRAMMARS, ...) is None:
            del sys.modules[_IRI_GRAMMARS]


def _run(args: argparse.Namespace) -> int:
    """The command ``args`` names, with every failure turned into its exit code (see
    :func:`main`)."""
    try:
        if args.endpoint_url or args.region:
            from attrkit.personalize import service as aws

            aws.configure(endpoint_url=args.endpoint_url, region=args.region)
        commands = {"sample": _sample, "attribute": _attribute, "report": _report,
                    "params": _params, "publish": _publish, "compare": _compare, "lab": _lab,
                    "index": _index}
        return commands[args.command](args)
    except BrokenPipeError:
        _quiet_stdout()
        return 141  # as a shell reports a command ended by SIGPIPE
    except KeyboardInterrupt:
        return 130
    except _Terminated:
        return 143  # as a shell reports a command ended by SIGTERM
    except BaseException as exc:  # noqa: BLE001 - a library's panic is a BaseException
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        error = explain(exc)
        if os.environ.get("ATTRKIT_DEBUG") or error is None:
            traceback.print_exc()
            if error is None:
                print("attrkit: internal error: this is a bug in attrkit; please report it "
                      "with the traceback above", file=sys.stderr)
                return 1
        print(f"attrkit: error: {one_line(str(error))}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    """While a command runs, the libraries' warnings and log lines (papermill's note on a file
    name without ``.ipynb``, nbconvert's, Jupyter's, py4j's, polars' note on threads) are for
    their developers: around attrkit's one line the terminal shows nothing else. attrkit does
    not warn through them; ``ATTRKIT_DEBUG=1`` shows them all. Everything is as it was when
    the command returns (``main`` may be called in a process that logs: Airflow, a notebook)."""
    import logging

    root = logging.getLogger()
    quiet = logging.NullHandler()
    # without a handler, Python's last-resort handler prints WARNING and above
    added = not root.handlers
    names = ("py4j", "papermill", "traitlets", "nbconvert", "asyncio")
    levels = {name: logging.getLogger(name).level for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if added:
            root.addHandler(quiet)
        for name in names:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            if added:
                root.removeHandler(quiet)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not fail again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
