"""The server's side of a run computed in the page: the plan it sends, and the frames it accepts back."""
import base64
import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from ddpm import Schedule
from demo.browser_run import plan, read_frames, where
from demo.request import parse_request


def pack(frames, n, arms, total, **header) -> str:
    """What demo/web/page.js's pack sends: gzip of [header length, header JSON, frames' bytes], base64."""
    head = json.dumps({"n": n, "arms": arms, "total": total, "frames": [[t, d, e] for t, d, e, _ in frames], **header}).encode()
    body = b"".join(views.tobytes() for *_, views in frames)
    return base64.b64encode(gzip.compress(struct.pack("<I", len(head)) + head + body)).decode()


def frames_of(req, marks):
    rng = np.random.default_rng(0)
    arms = 2 if req.side_by_side else 1
    return [(t, d, 0.1 * d, rng.integers(0, 256, (arms, 3, req.n, 16, 16, 3), dtype=np.uint8)) for t, d in marks]


def test_the_page_frames_come_back_as_the_runs_frames():
    req = parse_request(steps=4, n=3)
    sent = frames_of(req, [(500, 0), (250, 2), (0, 4)])
    frames, place, stopped = read_frames(pack(sent, 3, 2, 4, where={"backend": "WASM", "threads": 4}), req)
    assert [(f.t, f.done, f.total) for f in frames] == [(500, 0, 4), (250, 2, 4), (0, 4, 4)] and not stopped
    for frame, (*_, views) in zip(frames, sent):
        for arm in range(2):
            for v in range(3):
                assert np.array_equal(frame.arms[arm][v], views[arm, v])
    assert where("en", place) == "in this browser (WASM, 4 threads)"


@pytest.mark.parametrize("change", ["sprites", "arms", "steps", "order", "short", "garbage"])
def test_frames_that_are_not_this_runs_are_refused(change):
    req = parse_request(steps=4, n=3)
    marks = [(500, 0), (0, 4)] if change != "order" else [(0, 4), (500, 0)]
    sent = frames_of(req, marks)
    n, arms, total = {"sprites": (2, 2, 4), "arms": (3, 1, 4), "steps": (3, 2, 5)}.get(change, (3, 2, 4))
    payload = pack(sent, n, arms, total)
    if change == "short":
        payload = pack([(t, d, e, views[:, :, :2]) for t, d, e, views in sent], 3, 2, 4)  # two sprites' bytes of three
    if change == "garbage":
        payload = "not base64 at all!"
    with pytest.raises(ValueError):
        read_frames(payload, req)


def test_an_unknown_backend_is_not_repeated_to_the_viewer():
    with pytest.raises(ValueError):
        where("en", {"backend": "<b>GPU</b>", "threads": 4})


def test_the_plan_walks_the_servers_schedule():
    req = parse_request(sampler="DDIM", steps=25, n=2, class_name="hero", guidance=3.0)
    p = plan(req, Path("weights/sprites.safetensors"), None, {}, [25], view=0, sprite=None, pace=None,
             lang="en", compute="auto")
    s = Schedule().respace(25)
    assert p["kind"] == "ddim" and p["arms"] == 1 and p["guidance"] == 3.0
    assert np.array_equal(np.float32(p["schedule"]["ab"]), s.ab_t.numpy()) and p["schedule"]["t_model"] == s.t_model.tolist()
    assert len(p["context"]) == 2 and p["context"][0] == [1.0 if c == "hero" else 0.0 for c in req.classes]
    assert "{done}" in p["lines"]["step"]
    assert p["weak"] is None and p["autoguidance"] is None  # no weak net: the net alone, whatever ω asks
    assert plan(req, None, None, {}, [], view=0, sprite=None, pace=None, lang="en", compute="server") == {"compute": "server"}


@pytest.mark.parametrize("omega", [1.0, 2.5])
def test_the_plan_autoguides_by_the_weak_net_it_names(omega):
    req = parse_request(n=2, autoguidance=omega)
    p = plan(req, Path("weights/sprites.safetensors"), Path("weights/sprites.weak.safetensors"), {}, [500], view=0, sprite=None,
             pace=None, lang="en", compute="auto")
    from ddpm.guidance import DEFAULT_INTERVAL

    assert p["autoguidance"] == (None if omega == 1 else {"strength": omega, "interval": list(DEFAULT_INTERVAL)})
    assert (p["weak"] is None) == (omega == 1) and (omega == 1 or p["weak"].endswith("sprites.weak.onnx"))
