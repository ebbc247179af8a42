"""`make lab` starts JupyterLab with the project's kernel, prints its URL, answers on its port,
runs code in the attrkit kernel over an encrypted channel, and keeps the kernel's warning out of
the terminal. The test starts the server on 127.0.0.1 and stops it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("jupyterlab")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, data: bytes | None = None) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as r:
        assert r.status in (200, 201)
        body = r.read()
    return json.loads(body) if body[:1] in (b"{", b"[") else {}


def _execute(port: int, kernel: str, token: str, code: str) -> str:
    """Run ``code`` in a kernel through the server's websocket; the text it printed."""
    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect

    async def go() -> str:
        ws = await websocket_connect(
            f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?token={token}")
        msg_id = uuid.uuid4().hex
        ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": "t", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False}}))
        out = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = json.loads(await ws.read_message())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        ws.close()
        return "".join(out)

    return IOLoop.current().run_sync(go, timeout=90)


def test_make_lab_answers_on_its_port_with_the_projects_kernel():
    port = _free_port()
    lab = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={port}", "LAB_IP=127.0.0.1"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, env=os.environ | {"PYTHON": sys.executable})
    try:
        url = None
        deadline = time.monotonic() + 300  # the first run installs JupyterLab
        while url is None and time.monotonic() < deadline and lab.poll() is None:
            line = lab.stdout.readline()
            hit = re.match(r"JupyterLab: (http://127\.0\.0\.1:(\d+)/lab\?token=(\w+))$",
                           line.strip())
            if hit:
                url, token = hit.group(1), hit.group(3)
        assert url is not None, lab.stderr.read() if lab.poll() is not None else "no URL"
        assert int(hit.group(2)) == port
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
        api = f"http://127.0.0.1:{port}/api"
        specs = _get(f"{api}/kernelspecs?token={token}")
        assert "attrkit" in specs["kernelspecs"]
        kernel = _get(f"{api}/kernels?token={token}", json.dumps({"name": "attrkit"}).encode())
        printed = _execute(port, kernel["id"], token,
                           "import sys, attrkit; print(attrkit.__version__, sys.prefix)")
        import attrkit

        assert printed.split() == [attrkit.__version__, sys.prefix]
        # the token is not on any command line, where ps would show it
        lines = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                lines.append(cmdline.read_bytes())
        assert len(lines) > 3 and not [c for c in lines if token.encode() in c]
        # a request without the token is refused
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{api}/kernels", timeout=30)
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
    err = lab.stderr.read()
    assert "without encryption" not in err
    assert "Kernel started" in err  # the server's log is there; the kernel's warning is not
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
