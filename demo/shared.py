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
from collections.abc import Callable, Hashable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from .batcher import Batcher, LaneClosed

if TYPE_CHECKING:
    from .runner import Frame

# produce(model, stop) yields a run's frames, calling `model` like the U-Net and checking `stop` each step.
Producer = Callable[[Callable, threading.Event], Iterator["Frame"]]


class Run:
    """One computation and the frames it has made, for all of its viewers."""

    def __init__(self, batcher: Batcher, model: Callable, sprites: int, on_end: Callable[[Run], None]) -> None:
        self.frames: list[Frame] = []
        self.finished = False
        self.error: BaseException | None = None
        self.viewers = 0
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._on_end = on_end
        # The most-watched run waiting goes first: a class's shared run before one student's own.
        self.lane = batcher.lane(model, sprites, priority=lambda: self.viewers)

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

    def watch(self, poll: float = 0.5, gap: Callable[[], float] = lambda: 0.0) -> Iterator[Frame]:
        """The newest frame whenever the caller is ready, the last one always; while in line, the first with its place.

        A viewer from the start sees the first frame (x_T) too; one who joins late starts at the newest.
        After a frame, the next comes no sooner than `gap()` seconds later (the last one excepted)."""
        with self._cond:
            shown = -1 if not self.frames else len(self.frames) - 2  # index of the frame shown last
        place, due = 0, 0.0
        try:
            while True:
                wait = due - time.monotonic()  # > 0: this viewer's next frame is not due yet
                with self._cond:
                    self._cond.wait_for(lambda: self.finished or (len(self.frames) - 1 > shown and time.monotonic() >= due),
                                        timeout=min(poll, wait) if wait > 0 else poll)
                    count, finished = len(self.frames), self.finished
                if count - 1 > shown and time.monotonic() < due and not finished:
                    continue
                if count - 1 > shown:
                    shown = 0 if shown < 0 else count - 1
                    place = self.lane.place()
                    due = time.monotonic() + gap()
                    yield replace(self.frames[shown], queued=place) if place else self.frames[shown]
                elif finished:
                    break
                elif count and self.lane.place() != place:  # still in line: say where now
                    place = self.lane.place()
                    yield replace(self.frames[shown], queued=place)
            if self.error is not None:
                raise self.error
        finally:
            self.leave()

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

    def view(self, key: Hashable, model: Callable, sprites: int, produce: Producer) -> Run:
        """The run for `key`, joined as one more viewer; started (with `produce`) if none is live or kept."""
        with self._lock:
            run = self._live.get(key) or self._done.get(key)
            if run is not None and run.stop.is_set():
                run = None  # a stopped run cannot be joined; start afresh
            started = run is None
            if started:
                run = self._live[key] = Run(self.batcher, model, sprites, lambda r: self._ended(key, r))
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
        """Stop every live run and wait for its thread: at exit, a thread killed inside a torch call aborts the interpreter."""
        with self._lock:
            live = list(self._live.values())
        for run in live:
            run.halt()
        for run in live:
            if run.thread is not None:
                run.thread.join(timeout)

    def counts(self) -> tuple[int, int]:
        """(live computations, kept finished ones)."""
        with self._lock:
            return len(self._live), len(self._done)
