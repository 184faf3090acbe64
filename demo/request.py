"""The demo's request check: raw inputs from the UI or the API in, a `Request` or a clear error out.

No tensors are built by the check: requests are checked on the server's threads, and torch work there
slows the sampling thread (demo/serving.py)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ddpm import CLASSES, Schedule, class_context
from ddpm.guidance import mix_context, model_rows
from ddpm.sampler import default_steps

from .settings import ALL_SPRITES, ANY_CLASS, MIX, RUN, VIEWS, Choice, by_name

FORWARD_SOURCES = ("last run", "seed")
SOURCE = Choice(FORWARD_SOURCES)  # the forward process's sprites: the last run's, or a seed's
REQUEST = tuple(name for name in RUN if name not in ("view", "sprite"))  # what parse_request takes: the run, not its view


@dataclass(frozen=True)
class Request:
    """One checked run: sampler, steps, seed, sprites, class, the extra-noise scale λ and autoguidance ω."""

    ddim: bool
    steps: int
    seed: int
    n: int
    class_name: str | None  # None, MIXED or one of `classes`
    noise_scale: float  # λ for the main arm; 0 when "add noise back" is off
    side_by_side: bool  # also run the z = 0 arm from the same x_T (DDPM only)
    guidance: float  # classifier-free guidance weight w, used when a class is chosen
    classes: tuple[str, ...] = CLASSES  # the model's classes, in the order of its context vector
    mix: tuple[tuple[str, float], ...] = ()  # (class, weight) pairs when class_name is MIX
    autoguidance: float = 1.0  # ω, guided by the weak net beside the weights, both arms alike; 1 is the net alone

    @property
    def kind(self) -> str:
        """The sampler's name in `ddpm.sampler`."""
        return "ddim" if self.ddim else "ddpm"

    @property
    def rows(self) -> int:
        """The most rows a step of this run asks of the model: its arms' sprites, as guidance counts them."""
        return model_rows(self.n * (2 if self.side_by_side else 1), self.guidance, self.class_name is not None)

    def context(self) -> torch.Tensor | None:
        """The (n, classes) context rows of this run: its class, its mix, or None for no class (built when called)."""
        if self.class_name == MIX:
            return mix_context(dict(self.mix), self.n, self.classes)
        return class_context(self.class_name, self.n, self.classes)


def parse_request(*, classes: Sequence[str] = CLASSES, **raw: object) -> Request:
    """Check a run's settings (demo/settings.RUN but the view and the sprite), by name, and return a Request, or raise
    RequestError saying what is wrong. Unnamed settings take the page's defaults; steps, the sampler's own."""
    table = by_name(classes)
    unknown = set(raw) - set(REQUEST)
    if unknown:
        raise TypeError(f"parse_request() got unknown settings {sorted(unknown)}")

    def value(name: str) -> object:
        return table[name].kind.check(name, raw.get(name, table[name].default))

    ddim = value("sampler") == "DDIM"
    # The sampler's default without building the schedule's tensors on this thread.
    steps = value("steps") if raw.get("steps") is not None else default_steps("ddim" if ddim else "ddpm", Schedule.T)
    class_name = raw.get("class_name")
    class_name = None if class_name in (None, "", ANY_CLASS) else value("class_name")
    add_noise, side_by_side = value("add_noise"), value("side_by_side")
    seed, n, noise_scale, guidance = value("seed"), value("n"), value("noise_scale"), value("guidance")
    pairs = value("mix") if class_name == MIX else ()
    autoguidance = value("autoguidance")
    return Request(ddim, steps, seed, n, class_name, noise_scale if add_noise else 0.0, side_by_side and not ddim, guidance,
                   tuple(classes), pairs, autoguidance)


def parse_source(source: object) -> str:
    """Where the forward process takes its sprites from: the last run, or a seed; or RequestError."""
    return SOURCE.check("source", source)


def parse_view(view: object, sprite: object) -> tuple[int, int | None]:
    """The index of a view in VIEWS and the chosen sprite's index (None: all), or RequestError."""
    table = by_name()
    view = table["view"].kind.check("view", view)
    sprite = ALL_SPRITES if sprite in (None, "") else table["sprite"].kind.check("sprite", sprite)
    return VIEWS.index(view), None if sprite == ALL_SPRITES else int(sprite) - 1
