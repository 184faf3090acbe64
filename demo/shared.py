"""Shared runs: requests with the same settings and seed are computed once and streamed to every viewer.

A run is deterministic (the settings and the seed fix every sprite), so when a class presses Run on
the defaults, one computation serves them all. A viewer who joins late gets the frames so far at
once (`Run.frames`), then the live ones. Stop from one viewer leaves the others watching; the
computation stops when its last viewer leaves. A few finished runs are kept, so a late press
replays at once; memory stays bounded.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import replace

import torch

from ddpm import Denoiser

from .batcher import Batcher, LaneClosed
from .frames import Frame

# produce(denoiser, stop) yields a run's frames, sampling with `denoiser` (its lane) and checking `stop` each step.
Producer = Callable[[Denoiser, threading.Event], Iterator[Frame]]


def due_frame(shares: Sequence[float], shown: int, now: float, started: float | None, pace: float | None) -> int:
    """Pacing: the frame to show at `now`, of those made so far (`shares`: each one's share of the run's steps, in order).

    Live (no `pace`, or before the first frame is shown): the newest. Paced over `pace` seconds from `started`: the
    newest whose time, started + pace·share, has come, and never one before `shown`."""
    index = len(shares) - 1
    if pace is None or started is None:
        return index
    while index > shown and started + pace * shares[index] > now:
        index -= 1
    return index


def next_due(shares: Sequence[float], shown: int, gap_due: float, started: float | None, pace: float | None) -> float:
    """When the frame after `shown` may come: after the viewer's gap (`gap_due`), and in a paced playback not before
    its time (where it has been made)."""
    if pace is None or started is None or len(shares) <= shown + 1:
        return gap_due
    return max(gap_due, started + pace * shares[shown + 1])


class Run:
    """One computation and the frames it has made, for all of its viewers."""

    def __init__(self, batcher: Batcher, denoiser: Denoiser, sprites: int, on_end: Callable[[Run], None], steps: int = 0) -> None:
        self.frames: list[Frame] = []
        self.finished = False
        self.error: BaseException | None = None
        self.viewers = 0
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._on_end = on_end
        # The most-watched run waiting goes first: a class's shared run before one student's own.
        self.lane = batcher.lane(denoiser, sprites, priority=lambda: self.viewers, steps=steps)

    def start(self, produce: Producer) -> None:
        """Make the frames on a thread of the run's own.

        Never a bounded pool: a lane runs from the next step, and the batcher waits for every running lane's
        ask, so a run whose thread waited for a free worker would stall them all."""
        self.thread = threading.Thread(target=self.work, args=(produce,), name="ddpm-run", daemon=True)
        self.thread.start()

    def work(self, produce: Producer) -> None:
        """Make the frames (on the run's thread), one step at a time through the lane."""
        # Run threads do only the light per-step arithmetic: one OpenMP thread each, so that none
        # keeps a second team spinning beside the batcher's (docs/performance.md).
        torch.set_num_threads(1)
        try:
            with self.lane:
                for frame in produce(self.lane, self.stop):
                    with self._cond:
                        self.frames.append(frame)
                        self._cond.notify_all()
        except LaneClosed:
            pass  # stopped while waiting for a step
        except BaseException as e:  # handed to every viewer
            self.error = e
        finally:
            with self._cond:
                self.finished = True
                self._cond.notify_all()
            self._on_end(self)

    @property
    def complete(self) -> bool:
        """Finished every step, not stopped, no error."""
        return self.finished and self.error is None and not self.stop.is_set()

    def watch(self, poll: float = 0.5, gap: Callable[[], float] = lambda: 0.0, pace: float | None = None,
              clock: Callable[[], float] = time.monotonic) -> Viewer:
        """This viewer's frames (see Viewer); closing it, or reaching the end, leaves the run."""
        with self._cond:
            first = 0 if not self.frames or pace is not None else len(self.frames) - 1  # a playback starts at x_T
        return Viewer(self, first, poll, gap, pace, clock)

    def shares(self) -> list[float]:
        """Each frame's share of the run's steps, in order."""
        with self._cond:
            return [frame.done / max(1, frame.total) for frame in self.frames]

    def wait_for_frame(self, after: int, due: float, poll: float, last_at_once: bool,
                       clock: Callable[[], float] = time.monotonic) -> tuple[int, bool]:
        """Wait up to `poll` s for a frame past index `after` that is due (clock() ≥ `due`), or for the run's end
        (at once with `last_at_once`, else once `after` is its last frame or `due` has come). Returns (the newest frame's
        index, finished)."""
        def ready() -> bool:
            newest, now = len(self.frames) - 1, clock()
            return (newest > after and now >= due) or (self.finished and (last_at_once or newest == after or now >= due))

        wait = due - clock()
        with self._cond:
            self._cond.wait_for(ready, timeout=min(poll, wait) if wait > 0 else poll)
            return len(self.frames) - 1, self.finished

    def join(self) -> None:
        with self._cond:
            self.viewers += 1

    def leave(self) -> None:
        """A viewer went (Stop, a closed tab, the end): the last one stops the computation."""
        with self._cond:
            self.viewers -= 1
            last = self.viewers == 0 and not self.finished
        if last:
            self.halt()

    def halt(self) -> None:
        """Stop the computation at its next step."""
        self.stop.set()
        self.lane.leave()  # frees its share now, and wakes it if it waits for its step or in line


class Viewer:
    """One viewer's frames of a run, as an iterator.

    Live (no `pace`): the newest frame whenever the viewer is ready, the last at once; a viewer who came before
    the first frame starts at x_T (index 0), one who joins late at the newest frame. With a `pace` of so many
    seconds: the run played back over that time from x_T (due_frame), never ahead of what is computed. After a
    frame the next comes no sooner than `gap()` seconds later. While the run waits in the batcher's line, the frame
    shown is sent again whenever its place changes. Closing the viewer (its handler does, in `finally`; a `with`
    block does) or reaching the end leaves the run, once; the last viewer to leave stops it."""

    def __init__(self, run: Run, first: int, poll: float, gap: Callable[[], float], pace: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.run, self.poll, self.gap, self.pace, self.clock = run, poll, gap, pace, clock
        self.shown = first - 1  # index of the frame shown last: the first to show is the next one
        self.place = 0  # the run's place in line when its frame was last sent
        self.due = 0.0  # when this viewer may be sent its next frame (clock()), by the gap
        self.started: float | None = None  # when a paced playback's t = T was (clock())
        self.left = False

    def __iter__(self) -> Viewer:
        return self

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __next__(self) -> Frame:
        live = self.pace is None
        while not self.left:
            due = next_due(self.run.shares(), self.shown, self.due, self.started, self.pace)
            newest, finished = self.run.wait_for_frame(self.shown, due, self.poll, last_at_once=live, clock=self.clock)
            now = self.clock()
            target = due_frame(self.run.shares()[:newest + 1], self.shown, now, self.started, self.pace)
            if target > self.shown and (now >= self.due or (finished and live)):
                return self._advance(target, now)
            if finished and self.shown == newest:
                self._end()
            elif self.shown >= 0 and target == self.shown and self.run.lane.place() != self.place:  # in line: say where now
                return self._sent()
        raise StopIteration

    def close(self) -> None:
        """Stop watching: leave the run (the last viewer stops it)."""
        if not self.left:
            self.left = True
            self.run.leave()

    def _advance(self, target: int, now: float) -> Frame:
        """Show frame `target` (x_T first, for a viewer from the start), and start the gap, and a playback's clock."""
        self.shown = 0 if self.shown < 0 else target
        if self.started is None:
            self.started = now - (self.pace or 0) * self.run.shares()[self.shown]
        self.due = now + self.gap()
        return self._sent()

    def _end(self) -> None:
        """The last frame was shown: leave, and hand on the run's error, if it had one."""
        self.close()
        if self.run.error is not None:
            raise self.run.error

    def _sent(self) -> Frame:
        self.place = self.run.lane.place()
        frame = self.run.frames[self.shown]
        return replace(frame, queued=self.place) if self.place else frame


class Runs:
    """The server's runs by key: a new key starts a computation, a known one joins it."""

    def __init__(self, batcher: Batcher, keep: int = 8) -> None:
        self.batcher = batcher
        self.keep = keep
        self._live: dict[Hashable, Run] = {}
        self._done: OrderedDict[Hashable, Run] = OrderedDict()  # the last `keep` complete runs
        self._lock = threading.Lock()

    def watching(self) -> int:
        """Viewers of live runs, all together."""
        with self._lock:
            return sum(run.viewers for run in self._live.values())

    def view(self, key: Hashable, denoiser: Denoiser, sprites: int, produce: Producer, steps: int = 0) -> Run:
        """The run for `key`, joined as one more viewer; started (with `produce`, `steps` model calls where known) if
        none is live or kept."""
        with self._lock:
            run = self._live.get(key) or self._done.get(key)
            if run is not None and run.stop.is_set():
                run = None  # a stopped run cannot be joined; start afresh
            started = run is None
            if started:
                run = self._live[key] = Run(self.batcher, denoiser, sprites, lambda r: self._ended(key, r), steps)
            elif key in self._done:
                self._done.move_to_end(key)
            run.join()
        if started:
            run.start(produce)
        return run

    def _ended(self, key: Hashable, run: Run) -> None:
        with self._lock:
            if self._live.get(key) is run:
                del self._live[key]
            if run.complete:
                self._done[key] = run
                while len(self._done) > self.keep:
                    self._done.popitem(last=False)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every live run and wait for its thread, then close the batcher: at exit, a thread killed inside a torch
        call aborts the interpreter."""
        with self._lock:
            live = list(self._live.values())
        for run in live:
            run.halt()
        for run in live:
            if run.thread is not None:
                run.thread.join(timeout)
        self.batcher.close(timeout)

    def counts(self) -> tuple[int, int]:
        """(live computations, kept finished ones)."""
        with self._lock:
            return len(self._live), len(self._done)
