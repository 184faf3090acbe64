"""Every setting of the page in its address: a link's query read into settings, and settings written as a query.

Short, documented names (README.md, "Links"), for a teacher to write by hand:

    ?sampler=DDIM&steps=100&seed=7&lambda=0.5&lang=zh&run=1

A bad value is ignored, with the reason, and the rest of the link still applies. No Gradio here.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlencode

from ddpm import Schedule

from .request import (ALL_SPRITES, ANY_CLASS, COMPUTE, MAX_AUTOGUIDANCE, MAX_GUIDANCE, MAX_NOISE_SCALE, MAX_SEED, MAX_SPRITES, MIX,
                      SAMPLERS, VIEWS, RequestError, parse_mix)
from ddpm.guidance import MIXED

VIEW_NAMES = dict(zip(("xt", "eps", "x0"), VIEWS))  # the query's short names of the views
LANGS = ("en", "zh")
ACTIONS = ("forward", "race")  # what a link may do after its run
PACES = ("live", "10", "30")  # playback length: as fast as it computes, or over 10 or 30 seconds


def _whole(name: str, lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise RequestError("whole", name=name, lo=lo, hi=hi, value=repr(text)) from None
        if not math.isfinite(value) or value != int(value):
            raise RequestError("whole", name=name, lo=lo, hi=hi, value=repr(text))
        if not lo <= value <= hi:
            raise RequestError("range", name=name, lo=lo, hi=hi, value=int(value))
        return int(value)
    return parse


def _number(name: str, lo: float, hi: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not lo <= value <= hi:
            raise RequestError("number", name=name, lo=f"{lo:g}", hi=f"{hi:g}", value=repr(text))
        return value
    return parse


def _choice(name: str, choices: Sequence[str], fold: Callable[[str], str] = str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if fold(text) not in choices:
            raise RequestError("choice", name=name, choices=", ".join(choices), value=repr(text))
        return fold(text)
    return parse


def _flag(name: str) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        if text not in ("0", "1"):
            raise RequestError("choice", name=name, choices="0, 1", value=repr(text))
        return text == "1"
    return parse


def fields(classes: Sequence[str]) -> dict[str, tuple[str, Callable[[str], object]]]:
    """Each query name: the setting it sets (the page's control, by its parse_request name) and its check."""
    return {
        "sampler": ("sampler", _choice("sampler", SAMPLERS, str.upper)),
        "steps": ("steps", _whole("steps", 1, Schedule.T)),
        "seed": ("seed", _whole("seed", 0, MAX_SEED)),
        "sprites": ("n", _whole("number of sprites", 1, MAX_SPRITES)),
        "class": ("class_name", _choice("class", (ANY_CLASS, MIXED, MIX, *classes))),
        "mix": ("mix", lambda text: (parse_mix(text, classes), text)[1]),
        "w": ("guidance", _number("class guidance w", 0, MAX_GUIDANCE)),
        "ag": ("autoguidance", _number("autoguidance ω", 1, MAX_AUTOGUIDANCE)),
        "lambda": ("noise_scale", _number("noise scale λ", 0, MAX_NOISE_SCALE)),
        "noise": ("add_noise", _flag("noise")),
        "side": ("side_by_side", _flag("side")),
        "view": ("view", lambda text: VIEW_NAMES[_choice("view", tuple(VIEW_NAMES))(text)]),
        "sprite": ("sprite", lambda text: text if text == ALL_SPRITES else str(_whole("sprite", 1, MAX_SPRITES)(text))),
        "lang": ("lang", _choice("lang", LANGS)),
        "run": ("run", _flag("run")),
        "action": ("action", _choice("action", ACTIONS)),
        "t": ("t", _whole("t", 0, Schedule.T)),
        "present": ("present", _flag("present")),
        "pace": ("pace", _choice("pace", PACES)),
        "compute": ("compute", _choice("compute", COMPUTE)),
    }


def read_link(query: Mapping[str, str], classes: Sequence[str]) -> tuple[dict[str, object], list[tuple[str, str, RequestError]]]:
    """The settings a link's query sets, by setting name, and the fields it ignored: (query name, value, why).

    Names the page does not know are left alone: a Space or a browser may add its own."""
    settings, ignored = {}, []
    for name, (setting, parse) in fields(classes).items():
        if name not in query:
            continue
        try:
            settings[setting] = parse(query[name])
        except RequestError as e:
            ignored.append((name, query[name], e))
    return settings, ignored


def write_link(settings: Mapping[str, object], classes: Sequence[str]) -> str:
    """The query ("?…") that sets `settings` (by setting name, as read_link returns them): read_link(it) gives them back."""
    names = {setting: name for name, (setting, _) in fields(classes).items()}
    views = {view: short for short, view in VIEW_NAMES.items()}

    def text(setting: str, value: object) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        if setting == "view":
            return views[value]
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    return "?" + urlencode({names[k]: text(k, v) for k, v in settings.items() if k in names and v is not None})
