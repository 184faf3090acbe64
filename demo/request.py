"""The demo's limits and its request check: raw inputs from the UI or the API in, a `Request` or a clear error out.

No tensors are built here: requests are checked on the server's threads, and torch work there
slows the sampling thread (demo/runner.py)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ddpm import CLASSES, Schedule
from ddpm.guidance import DEFAULT_AUTOGUIDANCE, DEFAULT_GUIDANCE, MIXED
from ddpm.noise import MAX_SEED
from ddpm.sampler import default_steps

MAX_SPRITES = 64
MAX_GUIDANCE = 10.0
MAX_NOISE_SCALE = 2.0
MAX_AUTOGUIDANCE = 4.0  # ω past which the weak net's errors are pushed so far that colours saturate
VIEWS = ("x_t", "predicted noise ε̂", "predicted x̂0")
ANY_CLASS = "any"
MIX = "mix"  # several classes at once, by the weights in the request's mix (the course's lesson 3)
ALL_SPRITES = "all"
SAMPLERS = ("DDPM", "DDIM")
FORWARD_SOURCES = ("last run", "seed")
COMPUTE = ("auto", "browser", "server")  # where a run is computed (demo/browser_run.py): the page's choice, `compute=` in a link
# The page's settings before anyone touches them; parse_request's defaults. Steps: the sampler's own default.
DEFAULTS = {"sampler": "DDPM", "seed": 0, "n": 16, "class_name": ANY_CLASS, "add_noise": True, "noise_scale": 1.0,
            "side_by_side": True, "guidance": DEFAULT_GUIDANCE, "mix": "hero 1, food 0.6",
            "autoguidance": DEFAULT_AUTOGUIDANCE}

# Every message a bad request gets, in English; demo/i18n.py has the same keys in Chinese.
MESSAGES = {
    "whole": "{name} must be a whole number from {lo} to {hi}, got {value}",
    "range": "{name} must be from {lo} to {hi}, got {value}",
    "number": "{name} must be a number from {lo} to {hi}, got {value}",
    "flag": "{name} must be true or false, got {value}",
    "choice": "{name} must be one of {choices}, got {value}",
    "mix_empty": "a mix needs weights, such as 'hero 1, food 0.6'",
    "mix_part": "each part of a mix is a class of {choices} and a weight from 0 to {hi}, got {value}",
    "mix_zero": "a mix needs at least one weight above 0",
}


class RequestError(ValueError):
    """A bad input, said in English; `key` and `values` let the demo say it in the viewer's language."""

    def __init__(self, key: str, **values: object) -> None:
        """`key` names the message in MESSAGES; `values` fill it in."""
        self.key, self.values = key, values
        super().__init__(MESSAGES[key].format(**values))


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


def _int_in(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
        raise RequestError("whole", name=name, lo=lo, hi=hi, value=repr(value))
    if not lo <= int(value) <= hi:
        raise RequestError("range", name=name, lo=lo, hi=hi, value=int(value))
    return int(value)


def _number_in(name: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:  # NaN fails too
        raise RequestError("number", name=name, lo=f"{lo:g}", hi=f"{hi:g}", value=repr(value))
    return float(value)


def parse_mix(text: object, classes: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """'hero 1, food 0.6' (or hero=1, food:0.6) as (class, weight) pairs, or ValueError."""
    if not isinstance(text, str) or not text.strip():
        raise RequestError("mix_empty")
    pairs = []
    for item in text.split(","):
        parts = item.replace("=", " ").replace(":", " ").split()
        try:
            name, weight = parts[0], float(parts[1]) if len(parts) == 2 else None
        except (IndexError, ValueError):
            weight = None
        if weight is None or name not in classes or not 0 <= weight <= MAX_GUIDANCE:
            raise RequestError("mix_part", choices=", ".join(classes), hi=f"{MAX_GUIDANCE:g}", value=repr(item.strip()))
        pairs.append((name, weight))
    if not any(w > 0 for _, w in pairs):
        raise RequestError("mix_zero")
    return tuple(pairs)


def parse_request(*, sampler: object = DEFAULTS["sampler"], steps: object = None, seed: object = DEFAULTS["seed"],
                  n: object = DEFAULTS["n"], class_name: object = DEFAULTS["class_name"], add_noise: object = DEFAULTS["add_noise"],
                  noise_scale: object = DEFAULTS["noise_scale"], side_by_side: object = DEFAULTS["side_by_side"],
                  guidance: object = DEFAULTS["guidance"], mix: object = DEFAULTS["mix"],
                  autoguidance: object = DEFAULTS["autoguidance"], classes: Sequence[str] = CLASSES) -> Request:
    """Check raw inputs, by name, and return a Request, or raise RequestError saying what is wrong.

    Unnamed settings take the page's defaults (DEFAULTS); steps, the sampler's own (ddpm.sampler.default_steps)."""
    if sampler not in SAMPLERS:
        raise RequestError("choice", name="sampler", choices=", ".join(SAMPLERS), value=repr(sampler))
    ddim = sampler == "DDIM"
    # The sampler's default without building the schedule's tensors on this thread.
    steps = _int_in("steps", default_steps("ddim" if ddim else "ddpm", Schedule.T) if steps is None else steps, 1, Schedule.T)
    seed = _int_in("seed", seed, 0, MAX_SEED)
    n = _int_in("number of sprites", n, 1, MAX_SPRITES)
    if class_name in (None, "", ANY_CLASS):
        class_name = None
    elif class_name not in (MIXED, MIX, *classes):
        raise RequestError("choice", name="class", choices=", ".join((ANY_CLASS, MIXED, MIX, *classes)), value=repr(class_name))
    for name, flag in (("add noise back", add_noise), ("side by side", side_by_side)):
        if not isinstance(flag, bool):
            raise RequestError("flag", name=name, value=repr(flag))
    noise_scale = _number_in("noise scale λ", noise_scale, 0, MAX_NOISE_SCALE)
    guidance = _number_in("class guidance w", guidance, 0, MAX_GUIDANCE)
    pairs = parse_mix(mix, classes) if class_name == MIX else ()
    autoguidance = _number_in("autoguidance ω", autoguidance, 1, MAX_AUTOGUIDANCE)
    return Request(ddim, steps, seed, n, class_name, noise_scale if add_noise else 0.0, side_by_side and not ddim, guidance,
                   tuple(classes), pairs, autoguidance)


def parse_source(source: object) -> str:
    """Where the forward process takes its sprites from: the last run, or a seed; or RequestError."""
    if source not in FORWARD_SOURCES:
        raise RequestError("choice", name="sprites from", choices=", ".join(FORWARD_SOURCES), value=repr(source))
    return source


def parse_view(view: object, sprite: object) -> tuple[int, int | None]:
    """The index of a view in VIEWS and the chosen sprite's index (None: all), or ValueError."""
    if view not in VIEWS:
        raise RequestError("choice", name="view", choices=", ".join(VIEWS), value=repr(view))
    if sprite in (None, "", ALL_SPRITES):
        return VIEWS.index(view), None
    if sprite not in tuple(map(str, range(1, MAX_SPRITES + 1))):
        raise RequestError("choice", name="sprite", choices=f"{ALL_SPRITES}, 1 … {MAX_SPRITES}", value=repr(sprite))
    return VIEWS.index(view), int(sprite) - 1
