"""The project's own files agree with each other."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r.replace(" ", "") for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted.update({_name(r): r.replace(" ", "") for r in extra})
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = {_name(d): d.replace(" ", "") for d in env["dependencies"]
             if isinstance(d, str) and _name(d) not in ("python", "pip")}
    assert conda == wanted
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(p.startswith("-e .") for p in pip)


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()



def _module_imports() -> dict[str, set[str]]:
    """Each attrkit module → the attrkit modules (and subpackages) it imports, at module level
    or inside a function: a lazy import only postpones a circle, it does not remove it."""
    import ast

    pkg = ROOT / "attrkit"
    mods = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in pkg.rglob("*.py")}
    graph = {}
    for name, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("attrkit"):
                # `from pkg import module` depends on the module; `from mod import name`, on mod
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in mods else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("attrkit"))
        # importing attrkit.a.b runs attrkit/a/__init__.py first: a dependency on the package
        # too (the root package is the exception: it re-exports, and everything is inside it)
        parents = {".".join(d.split(".")[:i]) for d in deps for i in range(2, d.count(".") + 1)}
        graph[name] = {d for d in deps | parents
                       if d in mods and d != name and not name.startswith(d + ".")}
    return graph


def test_no_import_cycles():
    graph = _module_imports()
    assert "attrkit.storage.s3" in graph and "attrkit.personalize.service" in graph
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, dep]))
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [])


def test_only_storage_knows_url_schemes():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "attrkit").rglob("*.py")
                 if "storage" not in p.parts and 'startswith("s3://")' in p.read_text()]
    assert offenders == []


def _functions(path: Path):
    import ast

    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring does not count
            if body:
                yield node.name, body[-1].end_lineno - body[0].lineno + 1


def test_no_function_in_attribution_comparison_or_reports_is_over_60_lines():
    """``compare`` reads as its steps (choose the design, the metrics and sources, build and
    test the rows, correct, assemble), each a named function; so do the engine and reports."""
    long = [f"{p.relative_to(ROOT)}:{name} ({n} lines)"
            for part in ("attribution", "comparison", "reports")
            for p in sorted((ROOT / "attrkit" / part).glob("*.py"))
            for name, n in _functions(p) if n > 60]
    assert long == []
    assert max(n for name, n in _functions(ROOT / "attrkit" / "comparison" / "choose.py")
               if name == "compare") < 60


_TAG = re.compile(r"<(table|tr|td|th|ul|ol|li|p|h[1-6]|details|summary|b|div|span|a)[\s>]")


def _strings(source: str):
    import ast

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def test_no_html_is_assembled_outside_the_renderer():
    import nbformat

    renderer = ROOT / "attrkit" / "reports" / "render.py"
    offenders = [f"{p.relative_to(ROOT)}: {s[:50]!r}" for p in (ROOT / "attrkit").rglob("*.py")
                 if p != renderer for s in _strings(p.read_text()) if _TAG.search(s)]
    for nb_path in (ROOT / "attrkit" / "reports" / "templates").glob("*.ipynb"):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            if cell.cell_type == "code" and _TAG.search(cell.source):
                offenders.append(f"{nb_path.name}: {cell.source[:50]!r}")
    assert offenders == []
    assert _TAG.search("<td>") and _TAG.search("<p class='x'>")  # the pattern finds tags


def test_mathematics_lives_in_stats():
    # the sample generator's sqrt scales a random walk's shocks: data, not inference
    generator = ROOT / "attrkit" / "simulate" / "sample.py"
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "attrkit").rglob("*.py")
                 if "stats" not in p.relative_to(ROOT).parts and p != generator
                 and re.search(r"\bsqrt\(|import scipy|from scipy|statsmodels|\.ppf\(|\.cdf\(",
                               "\n".join(line for line in p.read_text().splitlines()
                                         if not line.lstrip().startswith("#")))]
    assert offenders == []


# attrkit's public names and module paths before the package was laid out by data flow: every
# one still imports.
EARLIER_NAMES = [
    "Attribution", "AttrkitError", "ComparisonTable", "ConfigError", "Dataset", "Health",
    "InputError", "Metric", "MetricAttribution", "MetricHealth", "WINDOW_SCHEMA", "__version__",
    "attribute", "attribute_exposure", "compare", "compare_users", "exposure_from_log",
    "generate_sample", "lift_by_day", "load", "monitor", "parse_expression", "read_report", "stats",
    "write_report",
]
EARLIER_PATHS = {
    "attrkit._defaults": ["ALPHA", "CORRECTION", "WINDOW_SECONDS"],
    "attrkit.io": ["load", "Dataset", "upper_snake"], "attrkit.schema": ["coerce", "SCHEMAS"],
    "attrkit.config": ["MetricAttribution", "Metric"], "attrkit.sources": ["source_of"],
    "attrkit.windows": ["window_start", "to_datetime"], "attrkit.health": ["Health"],
    "attrkit.users": ["UserData", "DesignCheck"],
    "attrkit.engine": ["attribute", "Attribution", "QUARANTINE_SCHEMA", "EXPOSURE_SCHEMA"],
    "attrkit.report": ["write_report", "read_report", "WINDOW_SCHEMA"],
    "attrkit.aws": ["read_cloudwatch", "publish_cloudwatch", "describe_metric_attribution",
                    "AwsError", "upload", "presign"],
    "attrkit.aws_session": ["client", "configure"],
    "attrkit.comparison": ["compare", "monitor", "compare_users", "lift_by_day",
                           "ComparisonTable", "MIN_USERS", "KINDS", "RESULT_SCHEMA"],
    "attrkit.notebooks": ["run_report", "parameters", "template_path"],
    "attrkit.reporting": ["conclusion", "between", "monitored", "power_table", "table_html",
                          "paragraphs", "esc"],
    "attrkit.sample": ["generate_sample"], "attrkit.calibration": ["study", "SCENARIOS"],
    "attrkit.plots": ["plot_metric", "plot_forest", "plot_monitor", "plot_traffic_share"],
    "attrkit.storage": ["local_file"], "attrkit.errors": ["AwsError", "ReportError"],
}


def test_every_earlier_public_name_still_imports():
    import importlib

    import attrkit

    for name in EARLIER_NAMES:
        assert getattr(attrkit, name) is not None, name
    for path, names in EARLIER_PATHS.items():
        module = importlib.import_module(path)
        for name in names:
            assert getattr(module, name) is not None, f"{path}.{name}"
    # an earlier path is the module that now holds the code, not a copy
    assert importlib.import_module("attrkit.engine") is importlib.import_module(
        "attrkit.attribution.engine")
    assert importlib.import_module("attrkit.engine").__spec__.name == "attrkit.attribution.engine"


def test_the_command_line_starts_without_the_statistics_or_jupyter():
    # `attrkit --help`, a usage error or `attrkit params` answer at once: scipy, statsmodels,
    # papermill and nbconvert are imported only by the commands that use them
    import subprocess
    import sys

    code = ("import sys\nfrom attrkit.cli import build_parser\nbuild_parser()\n"
            "import attrkit.reports.run\n"
            "print(sorted(m for m in ('scipy', 'statsmodels', 'papermill', 'nbconvert', "
            "'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_a_report_command_does_not_build_jsonschemas_iri_grammars(tmp_path):
    # rfc3987_syntax (installed beside Jupyter) builds 39 parsers on import, 2.7 s of every
    # report run; the command line tells Python it is absent while a command runs, and takes
    # that back afterwards
    import subprocess
    import sys

    code = ("import sys\nfrom attrkit.cli import main\n"
            "code = main(['params', 'attribution_report'])\n"
            "print('jsonschema' in sys.modules, sys.modules.get('rfc3987_syntax', 'taken back'))\n"
            "import rfc3987_syntax\nprint(code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True, cwd=tmp_path)
    *_, imported, code = done.stdout.strip().splitlines()
    assert imported == "True taken back" and code == "0"
