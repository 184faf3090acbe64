"""The run's settings in one table: each one's name, check, limits, default, name in a link, label and control.

The page's controls (app.py), the request check (demo/request.py), links (demo/link.py), the handlers' order of values
and open_link's outputs are built from `settings`. A new setting is a row here, its words in demo/i18n.py (a label in
PAGE, a name in NAMES) and the code that uses it. No Gradio at import: the controls are made on the page's demand."""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ddpm import CLASSES, Schedule
from ddpm.guidance import DEFAULT_AUTOGUIDANCE, DEFAULT_GUIDANCE, MIXED
from ddpm.noise import MAX_SEED  # 2³¹ − 1: the largest whole number both the slider and JavaScript's integers keep exact

from .i18n import EN, message

if TYPE_CHECKING:
    import gradio as gr

MAX_SPRITES = 64
MAX_GUIDANCE = 10.0
MAX_NOISE_SCALE = 2.0
MAX_AUTOGUIDANCE = 4.0  # ω past which the weak net's errors are pushed so far that colours saturate
VIEWS = ("x_t", "predicted noise ε̂", "predicted x̂0")
ANY_CLASS = "any"
MIX = "mix"  # several classes at once, by the weights in the request's mix (the course's lesson 3)
ALL_SPRITES = "all"
SAMPLERS = ("DDPM", "DDIM")
COMPUTE = ("auto", "browser", "server")  # where a run is computed (demo/browser_run.py)
PACES = ("live", "10", "30")  # playback length: as fast as it computes, or over 10 or 30 seconds
LANGS = ("en", "zh")
ACTIONS = ("forward", "race")  # what a link may do after its run


class RequestError(ValueError):
    """A bad input, said in English; `key` and `values` let the demo say it in the viewer's language (demo/i18n.py)."""

    def __init__(self, key: str, **values: object) -> None:
        """`key` names the message in i18n.ERRORS; `values` fill it in, `name` by the setting's name (i18n.NAMES)."""
        self.key, self.values = key, values
        super().__init__(message(EN, key, values))


def _float(text: str) -> float:
    """A link's text as a number, NaN where it is none (every check refuses NaN)."""
    try:
        return float(text)
    except ValueError:
        return math.nan


@dataclass(frozen=True)
class Whole:
    """A whole number from lo to hi: a slider in steps of 1."""

    lo: int
    hi: int

    def check(self, name: str, value: object) -> int:
        """`value` as an int, or RequestError."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
            raise RequestError("whole", name=name, lo=self.lo, hi=self.hi, value=repr(value))
        if not self.lo <= value <= self.hi:
            raise RequestError("range", name=name, lo=self.lo, hi=self.hi, value=int(value))
        return int(value)

    def read(self, name: str, text: str) -> int:
        """A link's text as an int, or RequestError."""
        value = _float(text)
        if not math.isfinite(value) or value != int(value):
            raise RequestError("whole", name=name, lo=self.lo, hi=self.hi, value=repr(text))
        return self.check(name, value)

    def write(self, value: object) -> str:
        """`value` as a link writes it."""
        return str(value)

    def control(self, label: object, value: object, **extra: object) -> gr.Component:
        """A slider that passes its value through unchecked, for `check` to say what is wrong (demo/components.py)."""
        import gradio as gr

        from .components import unchecked

        return unchecked(gr.Slider(self.lo, self.hi, value=value, step=1, label=label, **extra))


@dataclass(frozen=True)
class Number:
    """A number from lo to hi: a slider in steps of `step`."""

    lo: float
    hi: float
    step: float

    def check(self, name: str, value: object, said: object = None) -> float:
        """`value` as a float, or RequestError (saying `said`, a link's text, where given)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not self.lo <= value <= self.hi:  # NaN fails too
            raise RequestError("number", name=name, lo=f"{self.lo:g}", hi=f"{self.hi:g}", value=repr(value if said is None else said))
        return float(value)

    def read(self, name: str, text: str) -> float:
        """A link's text as a float, or RequestError."""
        return self.check(name, _float(text), said=text)

    def write(self, value: object) -> str:
        """`value` as a link writes it."""
        return f"{value:g}"

    def control(self, label: object, value: object, **extra: object) -> gr.Component:
        """A slider that passes its value through unchecked (demo/components.py)."""
        import gradio as gr

        from .components import unchecked

        return unchecked(gr.Slider(self.lo, self.hi, value=value, step=self.step, label=label, **extra))


@dataclass(frozen=True)
class Choice:
    """One of `choices`: a radio, or a dropdown. `labels` are the i18n keys the page shows them by (the choice itself
    where a key has no words); `spelled`, how a link writes each (by default as it is; read in any case)."""

    choices: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    spelled: tuple[str, ...] | None = None
    dropdown: bool = False
    summary: str | None = None  # the choices as an error lists them, where there are too many to list

    def check(self, name: str, value: object) -> str:
        """`value` if it is one of the choices, or RequestError."""
        if value not in self.choices:
            raise RequestError("choice", name=name, choices=self.summary or ", ".join(self.choices), value=repr(value))
        return value

    def read(self, name: str, text: str) -> str:
        """The choice a link's text spells, or RequestError."""
        spelled = self.spelled or self.choices
        for choice, word in zip(self.choices, spelled):
            if text.lower() == word.lower():
                return choice
        raise RequestError("choice", name=name, choices=self.summary or ", ".join(spelled), value=repr(text))

    def write(self, value: object) -> str:
        """`value` as a link spells it."""
        return (self.spelled or self.choices)[self.choices.index(value)]

    def control(self, label: object, value: object, **extra: object) -> gr.Component:
        """A radio or a dropdown of the choices, each by its label in the page's language."""
        import gradio as gr

        from .i18n import label as words

        shown = [(words(key), choice) for key, choice in zip(self.labels or self.choices, self.choices)]
        make = gr.Dropdown if self.dropdown else gr.Radio
        return make(shown, value=value, label=label, **extra)


@dataclass(frozen=True)
class Flag:
    """True or false: a checkbox; 1 or 0 in a link."""

    def check(self, name: str, value: object) -> bool:
        """`value` if it is a bool, or RequestError."""
        if not isinstance(value, bool):
            raise RequestError("flag", name=name, value=repr(value))
        return value

    def read(self, name: str, text: str) -> bool:
        """A link's 1 or 0, or RequestError."""
        if text not in ("0", "1"):
            raise RequestError("choice", name=name, choices="0, 1", value=repr(text))
        return text == "1"

    def write(self, value: object) -> str:
        """`value` as a link writes it."""
        return "1" if value else "0"

    def control(self, label: object, value: object, **extra: object) -> gr.Component:
        """A checkbox."""
        import gradio as gr

        return gr.Checkbox(value=value, label=label, **extra)


@dataclass(frozen=True)
class Mix:
    """Weights for several classes at once, 'hero 1, food 0.6' (or hero=1, food:0.6): a text box."""

    classes: tuple[str, ...]

    def check(self, name: str, value: object) -> tuple[tuple[str, float], ...]:
        """(class, weight) pairs, or RequestError."""
        if not isinstance(value, str) or not value.strip():
            raise RequestError("mix_empty", name=name)
        pairs = []
        for item in value.split(","):
            parts = item.replace("=", " ").replace(":", " ").split()
            try:
                class_name, weight = parts[0], float(parts[1]) if len(parts) == 2 else None
            except (IndexError, ValueError):
                weight = None
            if weight is None or class_name not in self.classes or not 0 <= weight <= MAX_GUIDANCE:
                raise RequestError("mix_part", name=name, choices=", ".join(self.classes), hi=f"{MAX_GUIDANCE:g}",
                                   value=repr(item.strip()))
            pairs.append((class_name, weight))
        if not any(w > 0 for _, w in pairs):
            raise RequestError("mix_zero", name=name)
        return tuple(pairs)

    def read(self, name: str, text: str) -> str:
        """A link's mix, checked, as it is written."""
        self.check(name, text)
        return text

    def write(self, value: object) -> str:
        """`value` as a link writes it."""
        return str(value)

    def control(self, label: object, value: object, **extra: object) -> gr.Component:
        """A text box."""
        import gradio as gr

        return gr.Textbox(value, label=label, **extra)


@dataclass(frozen=True)
class Pixel:
    """A pixel of a sprite, "X,Y", each 0 … 15 from the top left, or "" for none: a text box."""

    def check(self, name: str, value: object) -> str:
        """`value` as "X,Y" (or ""), or RequestError."""
        if value in (None, ""):
            return ""
        try:
            x, y = (int(v) for v in str(value).split(","))
        except ValueError:
            x = y = -1
        if not (isinstance(value, str) and 0 <= x < 16 and 0 <= y < 16):
            raise RequestError("pixel", name=name, value=repr(value))
        return f"{x},{y}"

    def read(self, name: str, text: str) -> str:
        """A link's pixel, checked."""
        return self.check(name, text)

    def write(self, value: object) -> str:
        """`value` as a link writes it."""
        return str(value)

    def control(self, label: object, value: object, **extra: object) -> gr.Component:
        """A text box."""
        import gradio as gr

        return gr.Textbox(value, label=label, **extra)


def pixel_of(text: str) -> tuple[int, int] | None:
    """A checked pixel's (x, y), or None."""
    return tuple(map(int, text.split(","))) if text else None


Kind = Whole | Number | Choice | Flag | Mix | Pixel


@dataclass(frozen=True)
class Setting:
    """One setting: `name` in the request, the handlers and the plan; its check and control (`kind`); `default` before
    anyone touches it; `link`, its name in a link's query; `label`, the i18n key of its label on the page (None: a
    link's alone); `elem_id`, where the page's script finds its control."""

    name: str
    kind: Kind
    default: object
    link: str
    label: str | None
    elem_id: str | None = None


@functools.cache
def settings(classes: tuple[str, ...] = CLASSES) -> tuple[Setting, ...]:
    """The page's settings for a model of `classes`, in the order of the page's inputs and the public API's parameters:
    RUN first (the /denoise API's), then the playback pace and where the run is computed."""
    sprites = (ALL_SPRITES, *map(str, range(1, MAX_SPRITES + 1)))
    return (
        Setting("sampler", Choice(SAMPLERS), "DDPM", "sampler", "sampler"),
        Setting("steps", Whole(1, Schedule.T), Schedule.T, "steps", "steps"),  # DDPM's default; DDIM's own where not given
        Setting("seed", Whole(0, MAX_SEED), 0, "seed", "seed"),
        Setting("n", Whole(1, MAX_SPRITES), 16, "sprites", "sprites"),
        Setting("class_name", Choice((ANY_CLASS, MIXED, MIX, *classes), ("any", "mixed", "mix_choice", *classes), dropdown=True),
                ANY_CLASS, "class", "class"),
        Setting("add_noise", Flag(), True, "noise", "add_noise"),
        Setting("noise_scale", Number(0, MAX_NOISE_SCALE, 0.05), 1.0, "lambda", "noise_scale"),
        Setting("side_by_side", Flag(), True, "side", "side_by_side"),
        Setting("view", Choice(VIEWS, ("view_x", "view_eps", "view_x0"), ("xt", "eps", "x0")), VIEWS[0], "view", "show"),
        Setting("sprite", Choice(sprites, dropdown=True, summary=f"{ALL_SPRITES}, 1 … {MAX_SPRITES}"), ALL_SPRITES, "sprite", "sprite"),
        Setting("guidance", Number(0, MAX_GUIDANCE, 0.5), DEFAULT_GUIDANCE, "w", "guidance"),
        Setting("mix", Mix(classes), "hero 1, food 0.6", "mix", "mix"),
        Setting("autoguidance", Number(1, MAX_AUTOGUIDANCE, 0.1), DEFAULT_AUTOGUIDANCE, "ag", "autoguidance"),
        Setting("pace", Choice(PACES, tuple(f"pace_{p}" for p in PACES)), PACES[0], "pace", "pace", "pace"),
        Setting("compute", Choice(COMPUTE, tuple(f"compute_{c}" for c in COMPUTE)), COMPUTE[0], "compute", "compute", "compute"),
        Setting("pixel", Pixel(), "", "pixel", "pixel", "pixel"),  # inside one step: the chosen sprite's pixel
    )


# What a link may also say, beyond the page's settings: the page's language, to run at once, what to do after, where
# to scrub to after the run, and the projector view.
LINK_ONLY = (
    Setting("lang", Choice(LANGS), None, "lang", None),
    Setting("run", Flag(), False, "run", None),
    Setting("action", Choice(ACTIONS), None, "action", None),
    Setting("t", Whole(0, Schedule.T), None, "t", None),
    Setting("present", Flag(), False, "present", None),
)
ON_PAGE = tuple(s.name for s in settings())  # the page's controls, in the order the handlers take and give them
RUN = ON_PAGE[:ON_PAGE.index("autoguidance") + 1]  # the settings of one run, as the /denoise API takes them
DEFAULTS = {s.name: s.default for s in settings()}


def by_name(classes: Sequence[str] = CLASSES) -> dict[str, Setting]:
    """The page's settings and the link's own, by name."""
    return {s.name: s for s in (*settings(tuple(classes)), *LINK_ONLY)}


def controls(label: object, classes: Sequence[str], **extra: dict) -> dict[str, gr.Component]:
    """The page's controls, by setting name, not yet placed (app.py renders each where it goes): `label(key)` gives a
    label's words; `extra[name]`, more of that control's arguments."""
    return {s.name: s.kind.control(label(s.label), s.default, render=False, **({"elem_id": s.elem_id} if s.elem_id else {}),
                                   **extra.get(s.name, {}))
            for s in settings(tuple(classes))}
