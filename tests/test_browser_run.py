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


def test_auto_says_why_it_chose_in_both_languages_and_refuses_made_up_estimates():
    from demo.browser_run import CHOSE, chosen_server, where, why
    from demo.i18n import EN, ZH

    free = {"server": 7.2, "browser": 50.4, "ahead": 0}
    assert why(EN, free, "server") == "the server was sooner (free now, about 7 s; this browser about 50 s)"
    assert why(ZH, free, "server") == "服务器更快（现在空闲，约 7 秒；本浏览器约 50 秒）"
    busy = {"server": 90.0, "browser": 48.0, "ahead": 12}
    assert why(EN, busy, "browser") == "this browser was about as soon (about 48 s; the server 12 runs ahead, about 90 s)"
    assert "前面有 12 个采样" in why(ZH, busy, "browser")
    assert where(EN, {"backend": "WASM", "threads": 4, "why": busy}).startswith("in this browser (WASM, 4 threads) · this browser")
    assert chosen_server(EN, CHOSE + json.dumps(free)) == why(EN, free, "server")
    unmeasured = {"server": 7.2, "browser": None, "ahead": 0}  # a free server taken before this browser was measured
    assert why(EN, unmeasured, "server") == "the server was free (about 7 s); this browser's own speed is measured after this run"
    assert "本浏览器的速度在这次采样之后测量" in why(ZH, unmeasured, "server")
    with pytest.raises(ValueError):
        why(EN, {**unmeasured, "ahead": 2}, "server")  # a busy server is weighed against a measured browser
    for bad in ({"server": "7", "browser": 50, "ahead": 0}, {"server": 7, "browser": -1, "ahead": 0},
                {"server": 7, "browser": 50, "ahead": True}, [7, 50, 0]):
        with pytest.raises(ValueError):
            why(EN, bad, "server")
        assert chosen_server(EN, CHOSE + json.dumps(bad)) == ""  # a line the page made up is left out, the run goes on
    assert chosen_server(EN, "") == chosen_server(EN, CHOSE + "{") == ""


def test_the_server_estimates_a_run_from_the_work_ahead_and_the_measured_cost_of_a_row_step(tiny_model):
    """issue 34: seconds = (row-steps still to do by the runs ahead + this run's) × seconds a row-step, as measured
    between the batcher's passes."""
    import torch

    from demo.batcher import Batcher

    with Batcher() as batcher:
        assert batcher.ahead() == (0, 0) and batcher.row_seconds is None
        batcher.seed(0.001)
        batcher.seed(0.5)  # a seed only counts before anything is measured
        assert batcher.row_seconds == 0.001
        lane = batcher.lane(tiny_model, 6, steps=10)  # 6 rows, aligned to 8
        assert batcher.ahead() == (1, 8 * 10)
        x, t, c = torch.zeros(6, 3, 16, 16), torch.full((6,), 5), torch.zeros(6, 5)
        for done in range(1, 4):
            lane(x, t, c)
            assert batcher.ahead() == (1, 8 * (10 - done))
        assert batcher.row_seconds != 0.001  # passes in a row measured the cost of a row-step
        lane.leave()
        assert batcher.ahead() == (0, 0)


def test_the_plan_of_an_auto_run_carries_the_servers_estimate_and_the_slack():
    from demo.browser_run import BROWSER_SLACK

    req = parse_request(n=2)
    estimate = {"seconds": 3.5, "ahead": 2}
    p = plan(req, Path("weights/sprites.safetensors"), None, {}, [500], view=0, sprite=None, pace=None, lang="en",
             compute="auto", server=estimate)
    assert p["server"] == estimate and p["slack"] == BROWSER_SLACK == 1.25
