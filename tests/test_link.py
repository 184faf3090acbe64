"""Every setting of the page in its address (demo/link.py): read, written, and read back."""
from urllib.parse import parse_qsl

import pytest

from ddpm import CLASSES
from demo.link import read_link, write_link
from demo.request import VIEWS


def test_a_link_sets_what_it_names_and_nothing_else():
    settings, ignored = read_link({"sampler": "ddim", "steps": "100", "seed": "7", "lambda": "0.5", "lang": "zh", "run": "1",
                                   "utm_source": "slides"}, CLASSES)
    assert settings == {"sampler": "DDIM", "steps": 100, "seed": 7, "noise_scale": 0.5, "lang": "zh", "run": True}
    assert ignored == []  # a name the page does not know is left alone


@pytest.mark.parametrize("name, value, words", [
    ("steps", "abc", "steps must be a whole number from 1 to 500, got 'abc'"), ("steps", "2.5", "whole number"),
    ("seed", "-1", "seed must be from 0 to"), ("class", "dragon", "class must be one of any, mixed, mix, hero"),
    ("lambda", "9", "noise scale λ must be a number from 0 to 2"), ("w", "lots", "class guidance w"),
    ("noise", "yes", "noise must be one of 0, 1"), ("view", "pixels", "view must be one of xt, eps, x0"),
    ("sprite", "65", "sprite must be from 1 to 64"), ("lang", "fr", "lang must be one of en, zh"),
    ("action", "fly", "action must be one of forward, race"), ("t", "600", "t must be from 0 to 500"),
    ("mix", "dragon 1", "each part of a mix"), ("sprites", "", "number of sprites must be a whole number"),
    ("ag", "0.5", "autoguidance ω must be a number from 1 to 4"), ("ag", "nan", "autoguidance ω"),
])
def test_a_bad_value_is_ignored_with_its_reason_and_the_rest_applies(name, value, words):
    settings, ignored = read_link({name: value, "seed": "3"} if name != "seed" else {name: value, "steps": "30"}, CLASSES)
    assert [(n, v) for n, v, _ in ignored] == [(name, value)] and words in str(ignored[0][2])
    assert settings == ({"seed": 3} if name != "seed" else {"steps": 30})


def test_every_setting_goes_round_a_link():
    everything = {"sampler": "DDIM", "steps": 30, "seed": 2**31 - 1, "n": 64, "class_name": "mix", "mix": "hero 1, food 0.6",
                  "guidance": 2.5, "noise_scale": 0.25, "add_noise": False, "side_by_side": True, "view": VIEWS[2], "sprite": "3",
                  "lang": "zh", "run": True, "action": "race", "t": 250, "present": True, "pace": "30", "compute": "server",
                  "autoguidance": 1.5}
    query = write_link(everything, CLASSES)
    assert query.startswith("?") and dict(parse_qsl(query[1:]))["view"] == "x0" and dict(parse_qsl(query[1:]))["noise"] == "0"
    settings, ignored = read_link(dict(parse_qsl(query[1:])), CLASSES)
    assert ignored == [] and settings == everything
    for view, short in zip(VIEWS, ("xt", "eps", "x0")):  # each view by its short name
        assert read_link({"view": short}, CLASSES)[0] == {"view": view}


def test_the_in_class_links_are_good_links():
    import re

    from demo.i18n import EN, PAGE, ZH

    for lang in (EN, ZH):
        links = re.findall(r"\]\((\?[^)]*)\)", PAGE[lang]["in_class_steps"])
        assert len(links) == 8
        for query in links:
            assert read_link(dict(parse_qsl(query[1:])), CLASSES)[1] == []
