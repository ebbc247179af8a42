"""The README's Python examples run as written, in order, in a fresh folder (after
`make report` alone: they make the sample files they read)."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_python_example_runs_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    script = "\n".join(blocks) + (
        "\nprint(' '.join(f'{x:.4f}' for x in by_user['lift']))"
        "\nwatch = attrkit.monitor(result, metric='CLICKS', control=A, treatment=B)"
        "\nfirst = watch.filter(pl.col('significant').fill_null(False)).row(0, named=True)"
        "\nprint(first['looks'], first['n'])\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    # the numbers the README shows beside the compare_users example
    lifts, first = done.stdout.strip().splitlines()[-2:]
    assert lifts == "0.0820 0.0783 0.0773"
    # the README's account of the monitor: significant from the first day on, 13,592 users
    looks, users = map(int, first.split())
    assert looks == 1 and "excludes 0 from the first\nday on (13,592 users)" in README.read_text()
    assert users == 13_592
