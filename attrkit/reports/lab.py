"""JupyterLab on the project's notebooks, with the project's kernel (``attrkit lab``, ``make lab``).

- The kernel ``attrkit`` is installed into the running environment (``sys.prefix``), so a
  notebook that names it runs with attrkit and its dependencies, whatever else is installed.
- Kernels talk to the server over TCP with CurveZMQ encryption (jupyter_client's
  ``transport_encryption="auto"``; the kernel declares support), so nobody on the machine can
  read the traffic, and the kernel has nothing to warn about in the terminal.
- As root (a container), Jupyter needs ``--allow-root``; in a container it listens on every
  interface so that a mapped port reaches it; elsewhere on 127.0.0.1. Either way it asks for a
  token, which the printed URL carries.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from attrkit.errors import ConfigError

KERNEL = "attrkit"
"""The project's Jupyter kernel: ``explore.ipynb`` and the report templates name it."""


def in_container() -> bool:
    """Whether this process runs in a container (Docker, Podman)."""
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def install_kernel() -> str:
    """Install (or refresh) the ``attrkit`` kernel into this environment; returns its folder."""
    from ipykernel.kernelspec import install

    return install(kernel_name=KERNEL, display_name="attrkit (.venv)", prefix=sys.prefix)


def command(folder: str, port: int, ip: str) -> list[str]:
    """The ``jupyter lab`` command line (what Jupyter needs where it runs)."""
    # the token goes in the environment (JUPYTER_TOKEN), not on the command line, where
    # anyone on the machine could read it with ps
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={ip}",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--ServerApp.root_dir={folder}", "--KernelManager.transport_encryption=auto"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses root without it; containers run as root
    return cmd


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - our own server
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def run(folder: str = "notebooks", port: int = 8888, ip: str | None = None,
        token: str | None = None, wait: float = 120.0) -> int:
    """Start JupyterLab on ``folder``, print its URL once it answers, and wait for it to end."""
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        raise ConfigError("JupyterLab is not installed: pip install 'attrkit[lab]' (make lab "
                          "installs it)")
    if not Path(folder).is_dir():
        raise ConfigError(f"{folder}: folder not found")
    install_kernel()
    ip = ip or ("0.0.0.0" if in_container() else "127.0.0.1")  # noqa: S104 - a container's port
    token = token or secrets.token_hex(24)
    server = subprocess.Popen(command(folder, port, ip), env=os.environ | {"JUPYTER_TOKEN": token})
    host = "127.0.0.1" if ip in ("0.0.0.0", "::") else ip  # noqa: S104
    status = f"http://{host}:{port}/api/status?token={token}"
    deadline = time.monotonic() + wait
    try:
        while not _answers(status):
            if server.poll() is not None:
                raise ConfigError(f"JupyterLab did not start (exit {server.returncode}); is port "
                                  f"{port} in use? Choose another: make lab LAB_PORT=8899")
            if time.monotonic() > deadline:
                server.terminate()
                raise ConfigError(f"JupyterLab did not answer on port {port} within {wait:.0f} s")
            time.sleep(0.3)
        print(f"JupyterLab: http://{host}:{port}/lab?token={token}", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()
