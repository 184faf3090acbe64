"""A classroom at once: continuous batching and shared runs give every run what it gets alone."""
import threading
import time

import numpy as np
import pytest
import torch

from ddpm import sample, sampler, seeded_noise
from ddpm.engine import TorchEngine
from demo.batcher import Batcher, LaneClosed
from demo.request import parse_request
from demo.runner import denoise_frames
from demo.shared import Runs


@pytest.fixture
def engine(tiny_model):
    return TorchEngine(tiny_model, bf16=False)  # the fp32 path: results must be bit-identical


class Counting:
    """The model, counting its calls and the rows it was asked for."""

    def __init__(self, model):
        self.model, self.n_cfeat, self.calls, self.rows = model, model.n_cfeat, 0, 0

    def __call__(self, x, t, c):
        self.calls += 1
        self.rows += len(x)
        return self.model(x, t, c)


def gated(req, permits: threading.Semaphore):
    """A producer of req's frames that makes each after x_T only once the test releases a permit, so that a test can
    act while it runs; a stopped run stops waiting."""
    def produce(model, stop):
        for frame in denoise_frames(model, req, stop=stop):
            yield frame
            while not stop.is_set() and not permits.acquire(timeout=0.05):
                pass
    return produce


def _in_threads(jobs):
    out = [None] * len(jobs)

    def go(i, job):
        out[i] = job()

    threads = [threading.Thread(target=go, args=(i, job), daemon=True) for i, job in enumerate(jobs)]  # a hang fails, not blocks
    for th in threads:
        th.start()
    deadline = time.monotonic() + 60
    for th in threads:
        th.join(max(0.0, deadline - time.monotonic()))
    return out


def test_concurrent_runs_share_forward_passes_and_get_their_solo_sprites(engine):
    """Each run keeps its own t, schedule, λ, class and guidance; sprite i is bit-identical to its solo run."""
    runs = [dict(kind="ddpm", steps=20, seed=1, n=4, side_by_side=True),
            dict(kind="ddim", steps=7, seed=2, n=5),
            dict(kind="ddpm", steps=12, seed=3, n=2, noise_scale=0.5, context=torch.eye(5)[[1, 3]])]

    def walk(model, r):
        x_T, noise = seeded_noise(r["seed"], r["n"])
        return sample(sampler(r["kind"], model, x_T, steps=r["steps"], noise=noise, noise_scale=r.get("noise_scale", 1.0),
                              context=r.get("context"), side_by_side=r.get("side_by_side", False)))

    def alone(r):
        with Batcher().lane(engine, 2 * r["n"]) as lane:
            return walk(lane, r)

    solo = [alone(r) for r in runs]
    assert torch.equal(solo[0], walk(engine, runs[0]))  # rows a multiple of 4: the same as without the batcher
    counting = Counting(engine)
    batcher = Batcher()
    lanes = [batcher.lane(counting, 2 * r["n"]) for r in runs]  # all in before any asks: every step is shared

    def job(lane, r):
        with lane:
            return walk(lane, r)

    together = _in_threads([lambda lane=lane, r=r: job(lane, r) for lane, r in zip(lanes, runs)])
    for a, b in zip(solo, together):
        assert torch.equal(a, b)
    assert counting.calls == 20  # one pass a step while any run goes, not 20 + 7 + 12
    assert counting.rows == 20 * 8 + 7 * 8 + 12 * 4  # each run's rows padded to a multiple of 4


def test_past_the_bound_runs_wait_in_line_and_say_where(engine):
    batcher = Batcher(max_sprites=8)
    a, b, c = batcher.lane(engine, 4), batcher.lane(engine, 4), batcher.lane(engine, 4)
    assert (a.place(), b.place(), c.place()) == (0, 0, 1) and batcher.load() == (2, 1)
    a.leave()
    assert c.place() == 0 and batcher.load() == (2, 0)
    big = batcher.lane(engine, 50)  # larger than the bound: it runs alone rather than never
    b.leave()
    c.leave()
    assert big.place() == 0
    big.leave()


def test_the_most_watched_run_in_line_goes_first(engine):
    batcher = Batcher(max_sprites=4)
    viewers = {"running": 1, "one": 1, "class": 1, "also one": 1}
    lanes = {name: batcher.lane(engine, 4, priority=lambda name=name: viewers[name]) for name in viewers}
    assert [lanes[name].place() for name in viewers] == [0, 1, 2, 3]  # equals: in order of arrival
    viewers["class"] = 20  # the class joins its run while it waits
    assert [lanes[name].place() for name in viewers] == [0, 2, 1, 3]
    lanes["running"].leave()
    assert lanes["class"].place() == 0 and lanes["one"].place() == 1 and batcher.load() == (1, 2)
    for lane in lanes.values():
        lane.leave()


def test_a_run_in_line_moves_up_as_viewers_join_it(engine):
    runs = Runs(Batcher(max_sprites=4))  # one run at a time
    req = parse_request(sampler="DDIM", steps=3, seed=0, n=1, side_by_side=False)
    gate = threading.Event()

    def produce(model, stop):
        gate.wait(10)  # the first run holds the batcher while the line forms
        yield from denoise_frames(model, req, stop=stop)

    a, b, c = (runs.view(key, engine, req.rows, produce) for key in "abc")
    assert (a.lane.place(), b.lane.place(), c.lane.place()) == (0, 1, 2)
    assert runs.view("c", engine, req.rows, produce) is c  # a second student presses Run on c
    assert (b.lane.place(), c.lane.place()) == (2, 1)
    gate.set()
    last = _in_threads([lambda r=r: list(r.watch())[-1] for r in (a, b, c, c)])
    assert all(f is not None and f.done == 3 for f in last)


def test_a_run_stopped_while_in_line_is_woken(engine):
    batcher = Batcher(max_sprites=4)
    first, waiting = batcher.lane(engine, 4), batcher.lane(engine, 4)
    errors, asked = [], threading.Event()

    class Noted(dict):
        """The batcher's asks, noting when one comes: the test waits on that, not on a clock."""

        def __setitem__(self, lane, ask):
            super().__setitem__(lane, ask)
            asked.set()

    batcher._asks = Noted()

    def ask():
        try:
            waiting(torch.zeros(4, 3, 16, 16), torch.full((4,), 5), torch.zeros(4, 5))
        except LaneClosed as e:
            errors.append(e)

    th = threading.Thread(target=ask)
    th.start()
    assert asked.wait(10) and waiting in batcher._asks  # it asks for its step while in line
    waiting.leave()
    th.join(5)
    assert not th.is_alive() and errors
    first.leave()


def test_identical_requests_are_computed_once_and_a_late_viewer_gets_the_frames_so_far(engine):
    counting = Counting(engine)
    runs = Runs(Batcher())
    req = parse_request(steps=30, seed=4, n=2)
    held, gate = threading.Event(), threading.Event()

    def produce(model, stop):
        for k, frame in enumerate(denoise_frames(model, req, stop=stop)):
            yield frame
            if k == 10:
                held.set()
                gate.wait(10)  # hold the run after its eleventh frame until the late viewer is in

    first = runs.view("key", counting, req.rows, produce)
    watching = first.watch()
    assert next(watching).done == 0  # a viewer from the start sees x_T first
    assert held.wait(10)
    late = runs.view("key", counting, req.rows, produce)
    assert late is first
    late_frames = late.watch()
    joined = next(late_frames)
    assert joined.done == 10  # the newest frame at once; all ten before it are in late.frames
    assert [f.done for f in late.frames[:11]] == list(range(11))
    gate.set()
    last_a, last_b = list(watching)[-1], list(late_frames)[-1]
    assert last_a.done == last_b.done == 30
    assert counting.calls == 30  # once, for both viewers
    solo = list(denoise_frames(engine, req))[-1]
    assert np.array_equal(last_a.arms[0][0], solo.arms[0][0]) and np.array_equal(last_a.arms[1][0], solo.arms[1][0])
    again = runs.view("key", counting, req.rows, produce)  # pressed after the end: replayed, not recomputed
    assert list(again.watch())[-1] is last_a and counting.calls == 30


def test_stop_from_one_viewer_leaves_the_others_and_the_last_stops_it(engine):
    counting = Counting(engine)
    runs = Runs(Batcher())
    req = parse_request(steps=500, seed=5, n=2, side_by_side=False)
    permits = threading.Semaphore(0)
    slow = gated(req, permits)

    run = runs.view("k", counting, req.rows, slow)
    a = run.watch()
    b = runs.view("k", counting, req.rows, slow).watch()
    next(a), next(b)  # both see x_T
    a.close()  # one student presses Stop
    before = counting.calls
    permits.release(10)
    shown = [next(b).done for _ in range(3)]  # the other still watches: it goes on
    assert shown == sorted(shown) and shown[0] > 0 and counting.calls > before
    b.close()  # the last viewer leaves
    run.thread.join(10)  # and the run's thread ends
    assert not run.thread.is_alive() and counting.calls < 500
    assert runs.counts() == (0, 0)  # neither live nor kept: a stopped run is not replayed
    fresh = runs.view("k", counting, req.rows, slow)
    assert fresh is not run and fresh.viewers == 1  # a new press starts afresh
    with fresh.watch() as watching:
        assert next(watching).done == 0  # from x_T
    fresh.thread.join(10)  # its only viewer left: it stops
    assert not fresh.thread.is_alive() and fresh.stop.is_set()


def test_memory_of_finished_runs_is_bounded(engine):
    runs = Runs(Batcher(), keep=3)
    for seed in range(10):
        req = parse_request(sampler="DDIM", steps=2, seed=seed, n=1, side_by_side=False)
        run = runs.view(seed, engine, req.rows, lambda m, stop, req=req: denoise_frames(m, req, stop=stop))
        list(run.watch())
        run.thread.join(10)  # its end is recorded when its thread ends
    assert runs.counts() == (0, 3)


def test_rows_count_both_arms_and_guidance():
    assert parse_request(steps=5, seed=0, n=16).rows == 32
    assert parse_request(steps=5, seed=0, n=16, class_name="hero", guidance=4.0).rows == 64
    assert parse_request(sampler="DDIM", steps=5, seed=0, n=16, class_name="hero", guidance=0.0).rows == 16


def test_a_run_in_line_says_its_place_in_both_languages():
    from demo.i18n import ZH
    from demo.frames import Frame

    waiting = Frame(500, 0, 500, 0.0, (), queued=3)
    assert waiting.status.startswith("t = 500 · pure noise x_T · waiting: 3 in line")
    assert "排队中：第 3 位" in waiting.status_in(ZH)
    assert Frame(500, 0, 500, 0.0, ()).status == "t = 500 · pure noise x_T · starting"


def test_a_viewer_is_paced_but_gets_the_last_frame(engine):
    """At most one frame per gap of 0.1 s, on a clock the test moves (1 ms a read), the last at once."""
    import itertools

    runs = Runs(Batcher())
    req = parse_request(steps=40, seed=9, n=2, side_by_side=False)
    ticks = itertools.count()
    clock = lambda: next(ticks) * 0.001  # noqa: E731
    shown, times = [], []
    for frame in runs.view("paced", engine, req.rows, lambda m, stop: denoise_frames(m, req, stop=stop)).watch(
            poll=0.001, gap=lambda: 0.1, clock=clock):
        shown.append(frame)
        times.append(clock())
    assert shown[0].done == 0 and shown[-1].done == 40 and len(shown) < 41
    assert all(b - a >= 0.099 for a, b in zip(times[:-2], times[1:-1]))  # at most one frame per 0.1 s; the last at once


def test_more_runs_than_viewers_allowed_all_finish(engine):
    """Cancelled viewers leave their runs behind for a moment, so live runs can outnumber the queue's slots:
    none may wait for a worker while the batcher waits for its ask (that deadlocked the whole server)."""
    runs = Runs(Batcher(max_sprites=4 * 80))  # room for every run at once
    reqs = [parse_request(sampler="DDIM", steps=3, seed=seed, n=1, side_by_side=False) for seed in range(80)]
    everyone = threading.Event()

    def produce(model, stop, r):
        everyone.wait(10)  # all 80 lanes are running before any asks for a step
        yield from denoise_frames(model, r, stop=stop)

    watched = [runs.view(r.seed, engine, r.rows, lambda m, stop, r=r: produce(m, stop, r)) for r in reqs]
    everyone.set()
    last = _in_threads([lambda w=w: list(w.watch())[-1] for w in watched])
    assert all(f is not None and f.done == 3 for f in last)
