"""scripts/space.py: a Space's repository that the Hub accepts and that runs (issue 34)."""
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from space import LFS_LIMIT, build  # noqa: E402


def committed(out: Path) -> dict[str, bytes]:
    """Every file of the one commit, as stored."""
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", "HEAD"], cwd=out, check=True, capture_output=True,
                           text=True).stdout.split()
    return {name: subprocess.run(["git", "show", f"HEAD:{name}"], cwd=out, check=True, capture_output=True).stdout for name in names}


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    out = tmp_path_factory.mktemp("space") / "repo"
    return out, build(out)


def test_the_space_is_one_commit_with_nothing_over_the_limit_outside_lfs(space):
    out, large = space
    assert subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=out, capture_output=True, text=True).stdout.strip() == "1"
    stored = committed(out)
    assert "demo/web/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm" in large
    attributes = stored[".gitattributes"].decode()
    for name, blob in stored.items():
        assert len(blob) <= LFS_LIMIT, name
        if name in large:  # a pointer to the file itself, whose object waits to be uploaded
            data = (out / name).read_bytes()
            oid = hashlib.sha256(data).hexdigest()
            assert blob.decode() == f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"
            assert (out / ".git/lfs/objects" / oid[:2] / oid[2:4] / oid).read_bytes() == data
            assert "*.wasm filter=lfs" in attributes or f"{name} filter=lfs" in attributes
        else:
            assert blob == (out / name).read_bytes(), name


def test_the_space_holds_what_runs_and_nothing_else(space):
    out, _ = space
    stored = committed(out)
    web = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "demo/web").rglob("*") if p.is_file())
    needed = ["app.py", "requirements.txt", "README.md", *web, *(f"weights/sprites{weak}.{ext}" for weak in ("", ".weak")
                                                                 for ext in ("safetensors", "xml", "bin", "onnx"))]
    assert not [name for name in needed if name not in stored]
    assert not [name for name in stored if name.split("/")[0] in ("tests", "scripts", "resume", "runs", ".venv")]
    assert not [name for name in stored if "__pycache__" in name]
    requirements = stored["requirements.txt"].decode().splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements and "torch==2.13.0+cpu" in requirements
    front = stored["README.md"].decode().split("---")[1]
    assert "app_file: app.py" in front and "cross-origin-embedder-policy: credentialless" in front


def test_the_space_serves_a_run(space, tmp_path):
    """`python app.py` from inside the Space's folder, with this environment's Python, serves a run."""
    gradio_client = pytest.importorskip("gradio_client")
    from conftest import launched

    out, _ = space
    with launched(tmp_path, cwd=out) as (url, _):
        client = gradio_client.Client(url, verbose=False)
        outputs = list(client.submit("DDIM", 5, 0, 4, "any", True, 1.0, False, api_name="/denoise"))
    stages = [stage for stage, *_ in outputs if isinstance(stage, dict) and "left" in stage]
    assert stages and stages[-1]["left"].startswith("data:image/png") and "5/5" in outputs[-1][1]
