"""The server's side of a run computed in the viewer's browser (demo/web/page.js is the page's side).

The server plans the run (the same checked Request, the respaced schedule, the context rows, the frames to keep) and
afterwards reads the frames the page sends back, so that scrubbing, the views, the files and the journey work as for a
run computed here. It computes nothing a step: the page's own sampler (demo/web/sampler.js) does."""
from __future__ import annotations

import base64
import functools
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ddpm import Schedule, load_model
from ddpm.checkpoint import weak_path
from ddpm.guidance import autoguidance, guides
from ddpm.web_model import check_inputs, onnx_path

from .frames import Frame
from .i18n import line, template
from .request import Request


WEB = Path(__file__).resolve().parent / "web"  # the page's scripts and the vendored runtime, served as static files
CHECK_TOLERANCE = 1e-3  # |ε̂| difference allowed in the page's self-check: float32 round-off is ~1e-5, a wrong model ~1
FALLBACK = "fallback"  # what the page sends instead of frames when it cannot compute (its runtime or self-check failed)
# compute=auto takes the browser where its estimate is within this factor of the server's: leaving the server free for
# others is worth a little (issue 34; docs/performance.md, "Where auto computes").
BROWSER_SLACK = 1.25
CHOSE = "chose:"  # what the page sends, with both estimates, where auto chose the server
MAX_PAYLOAD = 64 * 2**20  # bytes of frames a page may send, unpacked: 101 frames of 64 sprites, two arms, are 30 MB


def file_url(path: Path) -> str:
    """The address at which Gradio serves a static file (app.py lists WEB and the model with gr.set_static_paths)."""
    return f"/gradio_api/file={path.resolve()}"


def served_files(weights: Path) -> list[Path]:
    """What Gradio serves for the page's sampler: its scripts and runtime, and the ONNX models of `weights` and of the weak
    net beside them, if there."""
    weak = weak_path(weights)
    return [WEB, onnx_path(weights), *([onnx_path(weak)] if weak.is_file() else [])]


def page_url() -> str:
    """The page script's address."""
    return file_url(WEB / "page.js")


@functools.lru_cache(maxsize=4)
def _schedule(steps: int) -> dict:
    # The walk's numbers, as the server's sampler uses them (float32 values, exactly, in JSON's doubles).
    s = Schedule().respace(steps)
    return {name: getattr(s, name).tolist() for name in ("ab_t", "s1", "s2", "s3", "t_model")}


@functools.lru_cache(maxsize=4)
def self_check(weights: Path) -> dict:
    """What the page's self-check compares: ε̂ of check_inputs by eager fp32 torch (x is drawn by the page itself)."""
    model = load_model(weights, "cpu")
    x, t, c = check_inputs(model.n_cfeat)
    with torch.inference_mode():
        eps = model(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(c))
    return {"t": t.tolist(), "c": c.tolist(), "eps": eps.flatten().tolist(), "tolerance": CHECK_TOLERANCE}


def plan(req: Request, weights: Path, weak: Path | None, check: dict, kept: list[int], *, view: int, sprite: int | None,
         pace: float | None, lang: str, compute: str, server: dict | None = None) -> dict:
    """Everything the page's sampler needs for `req`: the walk, the noise's seed, the context, guidance and autoguidance (by
    the `weak` net's ONNX model, where one is served), frames to keep, what to show, the status lines in the viewer's
    language, and with compute "auto" the server's estimate (demo.serving.server_estimate) for the page to weigh
    against its own (demo/web/page.js: the browser where it is within BROWSER_SLACK of the server)."""
    if compute == "server":
        return {"compute": "server"}
    schedule = _schedule(req.steps)
    conditional = req.class_name is not None
    spec = autoguidance(req.autoguidance, weak is not None)  # as the server decides: ddpm.guidance.autoguidance
    return {
        "compute": compute, "kind": req.kind, "steps": req.steps, "seed": req.seed, "n": req.n,
        "arms": 2 if req.side_by_side else 1, "noise_scale": req.noise_scale,
        "schedule": {"ab": schedule["ab_t"], "s1": schedule["s1"], "s2": schedule["s2"], "s3": schedule["s3"],
                     "t_model": schedule["t_model"]},
        "context": None if (c := req.context()) is None else c.tolist(),
        "guidance": req.guidance if guides(req.guidance, conditional) else 0.0,
        "autoguidance": None if spec is None else {"strength": spec.strength, "interval": list(spec.interval)},
        "n_cfeat": len(req.classes), "kept": kept,
        "model": file_url(onnx_path(weights)), "weak": file_url(onnx_path(weak)) if spec else None, "check": check,
        "view": view, "sprite": sprite, "pace": pace,
        "captions": [line(lang, "with_noise"), line(lang, "without_noise")],
        "lines": {key: template(lang, key) for key in ("start", "step", "left", "done", "stopped")},
        "server": server, "slack": BROWSER_SLACK,
    }


def where(lang: str, sent: dict) -> str:
    """Where the page says it computed, in the viewer's language, and why where `auto` chose it; only the backends the
    page knows."""
    threads = sent.get("threads")
    if sent.get("backend") != "WASM" or not isinstance(threads, int) or not 1 <= threads <= 256:
        raise ValueError(f"unknown backend {sent!r}")
    place = line(lang, "in_browser", backend="WASM", threads=threads)
    return place if sent.get("why") is None else f"{place} · {why(lang, sent['why'], 'browser')}"


def why(lang: str, estimates: object, chosen: str) -> str:
    """Why `auto` computed where it did (`chosen`: "server" or "browser"), from the estimates the page weighed:
    {"server": seconds, "browser": seconds, or None where a free server was taken before this browser was measured,
    "ahead": runs}; ValueError for anything else (anyone can send anything)."""
    def seconds(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e6:
            raise ValueError(f"not an estimate: {estimates!r}")
        return float(value)

    if not isinstance(estimates, dict) or chosen not in ("server", "browser"):
        raise ValueError(f"not an estimate: {estimates!r}")
    ahead = estimates.get("ahead")
    if isinstance(ahead, bool) or not isinstance(ahead, int) or not 0 <= ahead < 10_000:
        raise ValueError(f"not an estimate: {estimates!r}")
    state = line(lang, "busy", ahead=ahead) if ahead else line(lang, "free")
    if chosen == "server" and ahead == 0 and estimates.get("browser") is None:
        return line(lang, "why_server_free", server=seconds(estimates.get("server")))
    return line(lang, f"why_{chosen}", state=state, server=seconds(estimates.get("server")),
                browser=seconds(estimates.get("browser")))


def chosen_server(lang: str, box: str) -> str:
    """The reason line of a run that `auto` sent to the server (the page's box: CHOSE and the estimates as JSON)."""
    if not box.startswith(CHOSE):
        return ""
    try:
        return why(lang, json.loads(box[len(CHOSE):]), "server")
    except (ValueError, json.JSONDecodeError):
        return ""


def read_frames(payload: str, req: Request) -> tuple[list[Frame], dict, bool]:
    """The page's frames for `req` (page.js's pack): the frames, where it computed, and whether it was stopped.

    Checked against the request, since anyone can send anything: the sprites, the arms, the steps, the frames' order."""
    try:
        packed = base64.b64decode(payload, validate=True)
        unpacker = zlib.decompressobj(wbits=31)  # gzip
        raw = unpacker.decompress(packed, MAX_PAYLOAD)
        if unpacker.unconsumed_tail:
            raise ValueError("more frames than any run keeps")
        (size,) = struct.unpack_from("<I", raw)
        header = json.loads(raw[4:4 + size])
        body = np.frombuffer(raw, np.uint8, offset=4 + size)
    except (ValueError, struct.error, zlib.error, UnicodeDecodeError) as e:
        raise ValueError(f"the page's frames could not be read: {e}") from None
    arms = 2 if req.side_by_side else 1
    if (header.get("n"), header.get("arms"), header.get("total")) != (req.n, arms, req.steps):
        raise ValueError("the page's frames are not of this run")
    marks = header.get("frames")
    per_frame = arms * 3 * req.n * 16 * 16 * 3
    if not isinstance(marks, list) or not marks or len(body) != len(marks) * per_frame:
        raise ValueError("the page's frames are incomplete")
    done = [m[1] for m in marks]
    if done[0] != 0 or any(b <= a for a, b in zip(done, done[1:])) or done[-1] > req.steps:
        raise ValueError("the page's frames are out of order")
    sprites = body.reshape(len(marks), arms, 3, req.n, 16, 16, 3)
    frames = [Frame(int(t), int(d), req.steps, float(elapsed), tuple(tuple(sprites[k, arm, v] for v in range(3)) for arm in range(arms)))
              for k, (t, d, elapsed) in enumerate(marks)]
    return frames, header.get("where") or {}, bool(header.get("stopped"))

