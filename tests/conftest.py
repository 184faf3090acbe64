import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_DATA = ROOT.parent / "shared" / "data" / "dawnlike"

torch.set_num_threads(2)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model():
    from ddpm import ContextUnet, UNetConfig

    torch.manual_seed(0)
    return ContextUnet(UNetConfig(n_feat=16, attention=True)).eval()


@pytest.fixture(autouse=True)
def batchers_closed(monkeypatch):
    """Every Batcher a test makes is closed at its end, and its thread is gone: no sampling thread outlives its test
    (the served demo's own, made once by demo.serving.server(), stays for the tests after)."""
    from demo.batcher import Batcher

    made, init = [], Batcher.__init__

    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Batcher, "__init__", recorded)
    yield
    from demo.serving import server

    served = server().batcher if server.cache_info().currsize else None
    for batcher in made:
        if batcher is not served:
            batcher.close()
            assert not batcher._thread.is_alive(), "a batcher's thread outlived its test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched(folder: Path, env: dict[str, str] | None = None, cwd: Path = ROOT):
    """`python app.py` in `cwd` on a free port with `env` added, its log in `folder`: (url, process)."""
    port = free_port()
    log = open(folder / "app.log", "w+")
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"app.py exited: {log.read()}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("app.py did not start within 90 s")
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="session")
def server_proc(tmp_path_factory):
    """The demo, launched as `python app.py` would be, on a free port: (url, process)."""
    with launched(tmp_path_factory.mktemp("app")) as running:
        yield running


@pytest.fixture(scope="session")
def server(server_proc):
    """The running demo's URL."""
    return server_proc[0]
