"""What a Hugging Face Space needs, and nothing else: a fresh git repository in OUT_DIR with one commit, ready to push.

    python scripts/space.py OUT_DIR
    cd OUT_DIR && git remote add space https://huggingface.co/spaces/OWNER/NAME && git lfs install --local && git push space main

It holds the app, ddpm/, demo/ (with the vendored browser runtime), assets/, docs/ and the runtime files of weights/;
no resume/, tests or scripts. The Hub refuses any file over 10 MB that is not in Git LFS, in any commit: so this
history has one commit, and every such file (the WASM runtime) is committed as an LFS pointer, its object in
.git/lfs/objects for `git lfs push` to upload; the working tree keeps the file itself, so `python app.py` runs there.
requirements.txt takes torch's CPU build from its own index (docs/deploy.md says why).
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = ("app.py", "ddpm", "demo", "assets", "docs", "LICENSE", "README.md")
WEIGHTS = ("README.md", "sprites.safetensors", "sprites.xml", "sprites.bin", "sprites.onnx",
           "sprites.weak.safetensors", "sprites.weak.xml", "sprites.weak.bin", "sprites.weak.onnx")
LFS_LIMIT = 10 * 2**20  # bytes: the Hub's limit for a file outside Git LFS
LFS_PATTERNS = ("*.wasm",)  # always in LFS; any other file over the limit is added by its path
TORCH_CPU = ("--extra-index-url https://download.pytorch.org/whl/cpu", "torch==2.13.0+cpu")


def git(out: Path, *args: str, stdin: bytes | None = None) -> str:
    """Run git in `out` and return its output."""
    return subprocess.run(["git", *args], cwd=out, input=stdin, check=True, capture_output=True).stdout.decode().strip()


def lfs_pointer(data: bytes) -> tuple[str, bytes]:
    """The Git LFS pointer of `data` (git-lfs spec v1) and its object id."""
    oid = hashlib.sha256(data).hexdigest()
    return oid, f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()


def requirements() -> str:
    """This project's requirements.txt with torch's CPU build from its own index: on PyPI, Linux's torch is the CUDA build."""
    kept = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#") and not line.startswith("torch")]
    return "\n".join(["# torch's CPU build: a Space has no GPU (docs/deploy.md)", *TORCH_CPU, *kept]) + "\n"


def copy_files(out: Path) -> None:
    """The app's files into `out`, without caches."""
    for name in TREES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, out / name)
    (out / "weights").mkdir()
    for name in WEIGHTS:
        shutil.copy2(ROOT / "weights" / name, out / "weights" / name)
    (out / "requirements.txt").write_text(requirements())


def build(out: Path) -> list[str]:
    """Write the Space's repository into `out` (new or empty) and commit it; the paths stored in LFS."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    copy_files(out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    large = [f for f in files if Path(f).match(LFS_PATTERNS[0]) or (out / f).stat().st_size > LFS_LIMIT]
    patterns = [*LFS_PATTERNS, *(f for f in large if not any(Path(f).match(p) for p in LFS_PATTERNS))]
    (out / ".gitattributes").write_text("".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in patterns))
    git(out, "init", "-q", "-b", "main")
    git(out, "add", "--", ".gitattributes", *(f for f in files if f not in large))
    for f in large:  # the pointer is committed; the object waits in .git/lfs/objects for git-lfs to upload
        data = (out / f).read_bytes()
        oid, pointer = lfs_pointer(data)
        stored = out / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(data)
        blob = git(out, "hash-object", "-w", "--stdin", stdin=pointer)
        git(out, "update-index", "--add", "--cacheinfo", f"100644,{blob},{f}")
    git(out, "-c", "user.name=ddpm", "-c", "user.email=ddpm@localhost", "commit", "-q", "-m", "The demo, for a Space")
    return large


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="a new folder for the Space's repository")
    a = p.parse_args()
    large = build(a.out)
    print(f"wrote {a.out}: one commit, {', '.join(large) or 'nothing'} in Git LFS. Push it: see this script's docstring.",
          file=sys.stderr)


if __name__ == "__main__":
    main()
