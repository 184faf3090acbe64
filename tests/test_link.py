"""Every setting of the page in its address (demo/link.py): read, written, and read back."""
from urllib.parse import parse_qsl

import pytest

from ddpm import CLASSES
from demo.link import read_link, write_link
from demo.settings import VIEWS


def test_a_link_sets_what_it_names_and_nothing_else():
    settings, ignored = read_link({"sampler": "ddim", "steps": "100", "seed": "7", "lambda": "0.5", "lang": "zh", "run": "1",
                                   "utm_source": "slides"}, CLASSES)
    assert settings == {"sampler": "DDIM", "steps": 100, "seed": 7, "noise_scale": 0.5, "lang": "zh", "run": True}
    assert ignored == []  # a name the page does not know is left alone


@pytest.mark.parametrize("name, value, words", [
    ("steps", "abc", "steps must be a whole number from 1 to 500, got 'abc'"), ("steps", "2.5", "whole number"),
    ("seed", "-1", "seed must be from 0 to"), ("class", "dragon", "class must be one of any, mixed, mix, hero"),
    ("lambda", "9", "noise scale λ must be a number from 0 to 2"), ("w", "lots", "class guidance w"),
    ("noise", "yes", "add noise back must be one of 0, 1"), ("view", "pixels", "view must be one of xt, eps, x0"),
    ("sprite", "65", "sprite must be one of all, 1 … 64"), ("lang", "fr", "lang must be one of en, zh"),
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
        assert len(links) == 9
        for query in links:
            assert read_link(dict(parse_qsl(query[1:])), CLASSES)[1] == []


def _good_and_bad(kind):
    """A value other than the default that `kind` takes, and a link's text it refuses."""
    from demo.settings import Choice, Flag, Mix, Number, Pixel, Whole

    return {Whole: lambda k: (k.hi, "ten"), Number: lambda k: (k.hi, "ten"), Choice: lambda k: (k.choices[-1], "nope"),
            Flag: lambda k: (False, "yes"), Mix: lambda k: ("food 1", "dragon 1"), Pixel: lambda k: ("8,15", "8,16")}[type(kind)](kind)


def test_every_setting_of_the_table_goes_round_a_link_is_checked_and_named_in_both_languages():
    """What a new setting needs (demo/settings.py): a row, its words, and nothing else, for links, checks and messages."""
    from demo.i18n import EN, NAMES, PAGE, ZH, error
    from demo.request import REQUEST, parse_request
    from demo.settings import Mix, RequestError, by_name

    for name, setting in by_name(CLASSES).items():
        good, bad = _good_and_bad(setting.kind)
        assert read_link(dict(parse_qsl(write_link({name: good}, CLASSES)[1:])), CLASSES) == ({name: good}, [])
        settings, ignored = read_link({setting.link: bad}, CLASSES)
        assert settings == {} and [(n, v) for n, v, _ in ignored] == [(setting.link, bad)]
        assert NAMES[EN][name] in error(EN, ignored[0][2]) and NAMES[ZH][name] in error(ZH, ignored[0][2])
        assert error(ZH, ignored[0][2]) != error(EN, ignored[0][2])
        if setting.label is not None:  # a control of the page: labelled in both languages
            assert setting.label in PAGE[EN] and setting.label in PAGE[ZH]
        if name in REQUEST:  # a run's setting: the request checks it the same way
            bad_value = 0.5 if name == "autoguidance" else ("hero 0" if isinstance(setting.kind, Mix) else "ten")
            extra = {"class_name": "mix"} if name == "mix" else {}
            with pytest.raises(RequestError) as refused:
                parse_request(**{name: bad_value}, **extra)
            assert refused.value.values["name"] == name and NAMES[ZH][name] in error(ZH, refused.value)
