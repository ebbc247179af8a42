"""A built wheel, not only the editable checkout, runs `attrkit report`: the templates and the HTML
template travel inside the package.

The wheel is built without network (``--no-build-isolation``) and installed with ``--no-deps``
into a fresh virtual environment that borrows the installed dependencies through a ``.pth``
line; that line does not run the editable install's finder, and the run starts outside the
repository, so the only attrkit the new environment can import is the wheel's.
"""

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, **kw):
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900,
                          **kw)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_built_wheel_runs_the_bundled_report(tmp_path):
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", dist, ROOT, cwd=tmp_path)
    wheel = next(dist.glob("attrkit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "attrkit/reports/templates/attribution_report.ipynb" in names
    assert "attrkit/reports/html/attrkit_report/attrkit_report.html.j2" in names
    assert not any(n.startswith(("tests/", "bench/", "notebooks/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=tmp_path).strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel,
         cwd=tmp_path)
    where = _run(python, "-c", "import attrkit; print(attrkit.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(site)

    out = tmp_path / "reports"
    # the borrowed dependencies' data files (nbconvert's templates, the kernel spec) too
    shared = {"JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
    _run(env_dir / "bin" / "attrkit", "report", "--out", out, "-p", "sample_days", "2",
         cwd=tmp_path, env={**os.environ, **shared})
    record = json.loads((out / "attribution_report.json").read_text())
    assert record["status"] == "ok"
    assert record["results"]["conclusion"]
    html = (out / "attribution_report.html").read_text()
    assert "Conclusion" in html and "<script" not in html
