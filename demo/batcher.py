"""Continuous batching: the model calls of every running run go into one forward pass a step.

Each run samples on a thread of its own with the library's sampler, its `Lane` as the denoiser.
The batcher's one thread waits until every running lane has asked for its step, concatenates the
inputs (each run keeps its own t, context and guidance), runs the model once, and hands each lane
its rows. A run joins at the next step and leaves when it is done. Past `max_sprites` a step, new
runs wait in line and can say where they stand (`Lane.place`); the line is ordered by priority (the
demo's: how many watch a run), then by arrival.

The same thread runs other torch work (`call`): one OpenMP team does all of the server's heavy work
(docs/performance.md, "one sampling thread").
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch import Tensor

from ddpm import Denoiser

Result = TypeVar("Result")
# Each run's rows start at a multiple of ALIGN in the shared batch, padded with copies of its last row:
# eager fp32 then gives every sprite the same bits whatever the company (tests/test_classroom.py);
# unaligned, small matrix products differ in the last bits with the batch's make-up.
ALIGN = 4
# Passes further apart than this were not one busy stretch: the batcher waited for work in between.
IDLE_GAP = 0.5
# Weight of the newest cycle in the running mean of seconds a row-step (an exponential moving average).
EMA_NEW = 0.1


def pad_rows(rows: Tensor, multiple: int) -> Tensor:
    """`rows` padded to a multiple of `multiple` rows with copies of its last row (computed, then dropped)."""
    extra = (-len(rows)) % multiple
    return torch.cat([rows, rows[-1:].expand(extra, *rows.shape[1:])]) if extra else rows


@dataclass
class _Ask:
    """One lane's model call for this step, and its answer."""

    x: Tensor
    t: Tensor
    c: Tensor
    out: Tensor | None = None
    error: BaseException | None = None
    # Set when out or error is: the lane waits on its own event, so a pass wakes only its lanes and an
    # ask only the batcher (one shared condition woke every waiting thread for every ask, n² a step).
    answered: threading.Event = field(default_factory=threading.Event)

    def answer(self, out: Tensor | None = None, error: BaseException | None = None) -> None:
        self.out, self.error = out, error
        self.answered.set()


class LaneClosed(RuntimeError):
    """The run left the batcher (stopped) while it was still asking for steps."""


class Lane:
    """A run's place in the batcher, and its denoiser: `lane(x, t, c)` from the run's own thread."""

    def __init__(self, batcher: Batcher, model: Denoiser, sprites: int, priority: Callable[[], int], steps: int = 0) -> None:
        self.batcher = batcher
        self.model = model
        self.n_cfeat = model.n_cfeat
        self.priority = priority  # read when the line is ordered: higher goes first
        self.sprites = sprites + (-sprites) % ALIGN  # the most rows it asks for in one call, aligned: its share of the bound
        self.steps = steps  # the calls it will ask for, where known: the work still ahead of a new run
        self.asked = 0

    def __call__(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        return self.batcher.ask(self, x, t, c)

    def place(self) -> int:
        """0 while it runs, else its place in line (1 = next)."""
        return self.batcher.place(self)

    def leave(self) -> None:
        """Done or stopped: free its share at once."""
        self.batcher.leave(self)

    def __enter__(self) -> Lane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.leave()


class Batcher:
    """One thread that runs the model for all lanes at once, at most `max_sprites` rows a step."""

    def __init__(self, max_sprites: int = 256, threads: int | None = None) -> None:
        self.max_sprites = max_sprites
        self._cond = threading.Condition()
        self._running: list[Lane] = []
        self._line: list[Lane] = []  # in order of arrival; admitted by _ordered_line
        self._asks: dict[Lane, _Ask] = {}
        self._tasks: deque[tuple[Callable[[], object], Future]] = deque()
        self._closed = False
        self._cycle: tuple[float, int] | None = None  # (when, rows) of the last pass
        self.row_seconds: float | None = None  # wall seconds a row-step as passes follow each other, all included (EMA)
        # Setting the thread count inside the thread gives it its own full OpenMP team (docs/performance.md).
        self._threads = threads or torch.get_num_threads()
        self._thread = threading.Thread(target=self._loop, name="ddpm-sampler", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """End the thread after its current pass: every lane still in it is told it left (LaneClosed), and a call not
        yet run is refused."""
        with self._cond:
            self._closed = True
            for lane in [*self._running, *self._line]:
                self._drop(lane)
            for _, future in self._tasks:
                future.set_exception(RuntimeError("the batcher is closed"))
            self._tasks.clear()
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> Batcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lane(self, model: Denoiser, sprites: int, priority: Callable[[], int] = lambda: 0, steps: int = 0) -> Lane:
        """A new run of `model` asking for up to `sprites` rows a step, `steps` times where known: it runs from the next
        step if it fits, else waits in line."""
        lane = Lane(self, model, sprites, priority, steps)
        with self._cond:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._line.append(lane)
            self._admit()
            self._cond.notify_all()
        return lane

    def call(self, fn: Callable[[], Result]) -> Result:
        """Run fn on the batcher's thread, between steps, and return its result."""
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._tasks.append((fn, future))
            self._cond.notify_all()
        return future.result()

    def load(self) -> tuple[int, int]:
        """(runs running, runs waiting)."""
        with self._cond:
            return len(self._running), len(self._line)

    def ahead(self) -> tuple[int, int]:
        """The work a new run would find: (runs running or waiting, their row-steps still to do, as far as known)."""
        with self._cond:
            lanes = [*self._running, *self._line]
            return len(lanes), sum(lane.sprites * max(0, lane.steps - lane.asked) for lane in lanes)

    def seed(self, row_seconds: float) -> None:
        """A first value for `row_seconds` before any run has been measured (the engine's own, at start)."""
        with self._cond:
            if self.row_seconds is None:
                self.row_seconds = row_seconds

    # --- the lanes' side, on their own threads -------------------------------------------------
    def ask(self, lane: Lane, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        """`lane`'s model call for this step: it waits for the step's pass and returns its own rows."""
        ask = _Ask(x, t, c)
        with self._cond:
            if lane not in self._running and lane not in self._line:
                raise LaneClosed("this run has left the batcher")
            self._asks[lane] = ask
            lane.asked += 1
            if self._ready():
                self._cond.notify_all()
        ask.answered.wait()
        if ask.error is not None:
            raise ask.error
        return ask.out

    def place(self, lane: Lane) -> int:
        """0 while `lane` runs, else its place in line (1 = next)."""
        with self._cond:
            return self._ordered_line().index(lane) + 1 if lane in self._line else 0

    def leave(self, lane: Lane) -> None:
        """`lane` is done or stopped: its share is free from the next step."""
        with self._cond:
            self._drop(lane)
            self._admit()
            self._cond.notify_all()

    def _drop(self, lane: Lane) -> None:
        if lane in self._running:
            self._running.remove(lane)
        elif lane in self._line:
            self._line.remove(lane)
        ask = self._asks.pop(lane, None)
        if ask is not None:
            ask.answer(error=LaneClosed("this run has left the batcher"))

    def _ordered_line(self) -> list[Lane]:
        return sorted(self._line, key=lambda lane: -lane.priority())  # stable: in order of arrival among equals

    def _admit(self) -> None:
        # Head of the line first, no overtaking (a large run is never passed over for ever by small ones);
        # a run larger than the bound runs alone rather than never.
        used = sum(lane.sprites for lane in self._running)
        for lane in self._ordered_line():
            if self._running and used + lane.sprites > self.max_sprites:
                break
            self._line.remove(lane)
            self._running.append(lane)
            used += lane.sprites

    # --- the batcher's thread ------------------------------------------------------------------
    def _ready(self) -> bool:
        return self._closed or bool(self._tasks) or (bool(self._running) and all(lane in self._asks for lane in self._running))

    def _loop(self) -> None:
        torch.set_num_threads(self._threads)
        while True:
            with self._cond:
                self._cond.wait_for(self._ready)
                if self._closed:
                    return
                if self._tasks:
                    fn, future = self._tasks.popleft()
                else:
                    fn, future = None, None
                    lanes = list(self._running)
                    asks = [self._asks.pop(lane) for lane in lanes]
            if fn is None:
                self._measure(sum(len(a.x) + (-len(a.x)) % ALIGN for a in asks))
                models: dict[int, tuple[Denoiser, list[_Ask]]] = {}  # one pass per denoiser: runs that share one share it
                for lane, ask in zip(lanes, asks):
                    models.setdefault(id(lane.model), (lane.model, []))[1].append(ask)
                for model, group in models.values():
                    self._step(model, group)
            else:
                try:
                    future.set_result(fn())
                except BaseException as e:  # handed to the caller
                    future.set_exception(e)

    def _measure(self, rows: int) -> None:
        """One more pass of `rows` begins: the time since the last one began, over its rows, is a row-step's cost as
        the server runs, with the runs' own arithmetic and the frames sent between passes (docs/performance.md)."""
        now = time.perf_counter()
        if self._cycle is not None and now - self._cycle[0] < IDLE_GAP:
            cost = (now - self._cycle[0]) / self._cycle[1]
            with self._cond:
                self.row_seconds = cost if self.row_seconds is None else (1 - EMA_NEW) * self.row_seconds + EMA_NEW * cost
        self._cycle = (now, rows)

    def _step(self, model: Denoiser, asks: list[_Ask]) -> None:
        """One forward pass for every ask; each gets its own rows back."""
        try:
            x, t, c = (torch.cat([pad_rows(getattr(a, k), ALIGN) for a in asks]) for k in "xtc")
            out = model(x, t, c)
            blocks = torch.split(out, [len(a.x) + (-len(a.x)) % ALIGN for a in asks])
        except BaseException as e:
            for a in asks:
                a.answer(error=e)
            return
        for a, block in zip(asks, blocks):
            a.answer(block[:len(a.x)])
