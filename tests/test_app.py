"""The demo end to end: a real server launched here, driven with gradio_client."""
import base64
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import ROOT, launched

sys.path.insert(0, str(ROOT / "scripts"))
from load_test import classroom, cpu_s, rss_mb  # noqa: E402

gradio_client = pytest.importorskip("gradio_client")
pytestmark = pytest.mark.slow  # a real server, launched here


def client(url):
    return gradio_client.Client(url, verbose=False)


def denoise_args(steps=20, seed=0, n=4, **kw):
    args = {"sampler": "DDPM", "steps": steps, "seed": seed, "n": n, "class_name": "any", "add_noise": True,
            "noise_scale": 1.0, "side_by_side": True, "view": "x_t", "sprite": "all"}
    return list({**args, **kw}.values())


def arms(stage):
    """The stage's two grids, decoded from their PNG data URLs."""
    return [iio.imread(base64.b64decode(stage[arm].removeprefix("data:image/png;base64,")), extension=".png")
            for arm in ("left", "right")]


def test_frames_stream_and_both_arms_start_from_the_same_noise(server):
    job = client(server).submit(*denoise_args(), api_name="/denoise")
    outs = list(job)
    assert len(outs) >= 3
    first_stage, status = outs[0][:2]
    assert "t = 500" in status
    left, right = arms(first_stage)
    assert left.shape == (2 * 17 + 1, 2 * 17 + 1, 3)  # four 16-px sprites in a 2×2 grid: sent small, scaled up by the page
    assert np.array_equal(left, right)
    final = [o for o in outs if isinstance(o[0], dict) and "left" in o[0]][-1]
    assert not np.array_equal(*arms(final[0]))  # noise vs z = 0
    assert len(outs[-1]) == 3 and "done" in outs[-1][1]  # stage, status, plot: the slider and files come after the run


def wait_until_idle(pid, timeout=30.0):
    """Wait until the process uses under half a core over half a second: its computation (about two cores) has ended."""
    deadline = time.monotonic() + timeout
    while True:
        before = cpu_s(pid)
        time.sleep(0.5)
        if cpu_s(pid) - before < 0.25:
            return
        assert time.monotonic() < deadline, "the server kept computing"


def test_stop_ends_the_computation(server_proc):
    server, proc = server_proc
    c = client(server)
    job = c.submit(*denoise_args(steps=500, n=16), api_name="/denoise")
    while len(job.outputs()) < 3:
        time.sleep(0.05)
    job.cancel()
    wait_until_idle(proc.pid)
    # The same request again: had its computation gone on, this would join it late and start mid-run.
    again = c.submit(*denoise_args(steps=500, n=16), api_name="/denoise")
    while not again.outputs():
        time.sleep(0.05)
    assert "starting" in again.outputs()[0][1], "the cancelled run's computation went on without viewers"
    again.cancel()


@pytest.mark.parametrize("bad, words", [  # the demo's own checks (demo/request.py); the sliders pass values through unchecked
    ({"steps": 1000}, "steps must be from 1 to 500, got 1000"), ({"n": 0}, "number of sprites must be from 1 to 64, got 0"),
    ({"noise_scale": 5.0}, "noise scale λ must be a number from 0 to 2, got 5.0"), ({"seed": -3}, "seed must be from 0 to"),
    ({"sampler": "GAN"}, "'GAN' (type: <class 'str'>) is not in the list of choices"),
    ({"class_name": "dragon"}, "dragon is not in the list of choices"),
    ({"steps": "ten"}, "steps must be a whole number from 1 to 500, got 'ten'"), ({"seed": "x"}, "seed must be a whole number"),
    ({"guidance": "lots"}, "class guidance w must be a number from 0 to 10, got 'lots'"),
    ({"guidance": -1.0}, "class guidance w must be a number from 0 to 10, got -1.0"),
    ({"view": "pixels"}, "'pixels' (type: <class 'str'>) is not in the list"),
    ({"steps": 2.5}, "steps must be a whole number from 1 to 500, got 2.5"),
    ({"class_name": "mix", "guidance": 4.0, "mix": "dragon 1"}, "each part of a mix is a class of hero"),
])
def test_bad_input_is_rejected_and_the_server_stays_up(server, bad, words):
    c = client(server)
    with pytest.raises(Exception, match=re.escape(words)):
        c.predict(*denoise_args(**bad), api_name="/denoise")
    assert "done" in c.predict(*denoise_args(steps=3), api_name="/denoise")[1]


def test_a_class_with_guidance_and_the_api_without_it(server):
    """Guidance is the last input, so calls that leave it out (written before it existed) still work."""
    c = client(server)
    assert "done" in c.predict(*denoise_args(steps=4, class_name="food", guidance=6.0), api_name="/denoise")[1]
    assert "done" in c.predict(*denoise_args(steps=4, class_name="food"), api_name="/denoise")[1]
    assert "done" in c.predict(*denoise_args(steps=4, class_name="mix", guidance=4.0, mix="hero 1, food 0.6"), api_name="/denoise")[1]


def test_concurrent_clients_all_finish(server):
    def one(seed):
        return client(server).predict(*denoise_args(steps=10, seed=seed), api_name="/denoise")[1]

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(one, range(4)))
    assert all("done" in s for s in statuses)


def test_missing_weights_stop_startup_with_a_hint(tmp_path):
    env = {**os.environ, "DDPM_WEIGHTS": str(tmp_path / "missing.safetensors")}
    proc = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "python -m ddpm train" in proc.stderr and "missing.safetensors" in proc.stderr


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_server_memory_does_not_grow_over_100_runs(server_proc):
    url, proc = server_proc
    c = client(url)
    for i in range(20):  # warm: allocator pools, torch's caches, Gradio's first sessions
        c.predict(*denoise_args(steps=4, n=4, seed=i), api_name="/denoise")
    before = rss_mb(proc.pid)
    for i in range(100):
        c.predict(*denoise_args(steps=4, n=4, seed=i), api_name="/denoise")
    growth = rss_mb(proc.pid) - before
    # Measured: about 7 MB here; a plot re-sent each frame used to add about 110 MB.
    assert growth < 30, f"the server grew by {growth:.0f} MB over 100 runs"


def test_forward_process_streams_with_no_arguments(server):
    """/forward with every parameter left to its default: a seed's sprites noised from t = 0 to 500."""
    job = client(server).submit(api_name="/forward")
    outs = [o for o in job if isinstance(o[0], dict) and "left" in o[0]]
    statuses = [o[1] for o in outs]
    assert statuses[0].startswith("t = 0 ·") and statuses[-1].startswith("t = 500 ·") and "done" in statuses[-1]
    ts = [int(s.split()[2]) for s in statuses]
    assert ts == sorted(ts) and len(ts) >= 3
    clean, noised = arms({**outs[0][0], "right": outs[0][0]["left"]})[0], arms({**outs[-1][0], "right": outs[-1][0]["left"]})[0]
    assert clean.shape == noised.shape == (4 * 17 + 1, 4 * 17 + 1, 3)  # 16 sprites
    assert outs[0][0]["right"] is None  # no run of this session to set beside it
    assert np.abs(clean.astype(int) - noised.astype(int)).mean() > 30  # sprites turned to noise


def test_race_streams_both_samplers_with_their_times(server):
    job = client(server).submit(3, 4, 20, 5, api_name="/race")  # seed, sprites, DDPM steps, DDIM steps
    outs = [o for o in job if isinstance(o[0], dict) and "left" in o[0]]
    first, last = outs[0], outs[-1]
    assert np.array_equal(*arms(first[0]))  # the same x_T
    assert "DDPM: step 20/20" in last[1] and "DDIM: step 5/5" in last[1] and "both done" in last[1]
    assert last[0]["captions"][0].startswith("DDPM, 20 steps: ") and last[0]["captions"][1].startswith("DDIM, 5 steps: ")


def test_a_small_classroom_shares_and_everyone_finishes(server):
    """The load test of scripts/load_test.py in small: identical runs and distinct ones, all at once."""
    out = classroom(server, identical=4, distinct=2, distinct_steps=5, default=tuple(denoise_args(steps=30, seed=77)))
    assert out["errors"] == []
    assert all("done" in r["status"] for r in out["results"])
    assert out["first_frame_max_s"] < 30  # every client sees x_T; the 2 s bar is the script's, on a quiet machine


def test_a_non_number_is_refused_in_the_callers_language(server):
    c = gradio_client.Client(server, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    with pytest.raises(Exception, match="步数必须是 1 到 500 之间的整数"):
        c.predict(*denoise_args(steps="ten"), api_name="/denoise")


def test_a_full_queue_is_a_message_not_a_hang(tmp_path):
    from gradio_client.utils import Status

    with launched(tmp_path, {"DDPM_MAX_VIEWERS": "1"}) as (url, _):
        c = client(url)
        # One runs, one waits in Gradio's queue: then, and not after a guessed time, the third comes.
        running = c.submit(*denoise_args(steps=500, n=16, seed=1), api_name="/denoise")
        while not running.outputs():
            time.sleep(0.01)
        waiting = c.submit(*denoise_args(steps=500, n=16, seed=2), api_name="/denoise")
        while waiting.status().code != Status.IN_QUEUE:
            time.sleep(0.01)
        with pytest.raises(Exception, match="(?i)queue is full"):
            c.submit(*denoise_args(steps=500, n=2, seed=3), api_name="/denoise").result(timeout=60)
        for job in (running, waiting):  # the refusal disturbs neither the run nor the one waiting
            assert "done" in job.result(timeout=120)[1]


def test_no_update_of_a_run_leaves_the_schedule_picture_empty(monkeypatch):
    """With many watching the picture moves less often, but every update carries one: None would clear it."""
    from demo import handlers

    monkeypatch.setattr(handlers, "gap", lambda: 1.0)  # as with twelve watching: a new picture every 2 s at most
    updates = list(handlers.denoise("DDPM", 3, 4242, 2, "any", True, 1.0, True))
    assert len(updates) >= 3 and all(u[2] is not None for u in updates[:-1])  # the last only adds the frames


def test_the_page_is_cross_origin_isolated_and_serves_the_browsers_sampler(server):
    """WASM threads need COOP and COEP on the page; the page's sampler, its runtime and the model are served here."""
    import urllib.request

    from demo.browser_run import WEB, file_url
    from ddpm.checkpoint import weak_path
    from ddpm.web_model import onnx_path

    with urllib.request.urlopen(server) as page:
        assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert page.headers["Cross-Origin-Embedder-Policy"] == "credentialless"
    runtime = WEB / "vendor" / "onnxruntime-web" / "ort-wasm-simd-threaded.wasm"
    weights = ROOT / "weights" / "sprites.safetensors"
    for path in (WEB / "page.js", runtime, onnx_path(weights), onnx_path(weak_path(weights))):
        with urllib.request.urlopen(server.rstrip("/") + file_url(path)) as got:
            assert got.status == 200 and got.headers["Cross-Origin-Embedder-Policy"] == "credentialless", path


def test_frames_from_a_page_are_checked_and_a_page_that_cannot_compute_gets_a_server_run(server):
    """The last two inputs are the page's own (its plan and its frames): frames not of this run are refused with a
    message; "fallback" (the page could not compute) makes the server compute, and its line says why."""
    c = client(server)
    with pytest.raises(Exception, match="the page's frames could not be read"):
        c.predict(*denoise_args(steps=3), 4.0, "hero 1", 1.0, None, "bm90IGZyYW1lcw==", api_name="/denoise")
    status = c.predict(*denoise_args(steps=3), 4.0, "hero 1", 1.0, None, "fallback", api_name="/denoise")[1]
    assert "on the server" in status and status.endswith("this browser could not compute it")
