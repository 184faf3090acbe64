"""Every setting of the page in its address: a link's query read into settings, and settings written as a query.

Short, documented names (docs/links.md; each setting's in demo/settings.py), for a teacher to write by hand:

    ?sampler=DDIM&steps=100&seed=7&lambda=0.5&lang=zh&run=1

A bad value is ignored, with the reason, and the rest of the link still applies. No Gradio here.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from .settings import RequestError, by_name


def read_link(query: Mapping[str, str], classes: Sequence[str]) -> tuple[dict[str, object], list[tuple[str, str, RequestError]]]:
    """The settings a link's query sets, by setting name, and the fields it ignored: (query name, value, why).

    Names the page does not know are left alone: a Space or a browser may add its own."""
    settings, ignored = {}, []
    for name, setting in by_name(classes).items():
        if setting.link not in query:
            continue
        try:
            settings[name] = setting.kind.read(name, query[setting.link])
        except RequestError as e:
            ignored.append((setting.link, query[setting.link], e))
    return settings, ignored


def write_link(settings: Mapping[str, object], classes: Sequence[str]) -> str:
    """The query ("?…") that sets `settings` (by setting name, as read_link returns them): read_link(it) gives them back."""
    table = by_name(classes)
    return "?" + urlencode({table[k].link: table[k].kind.write(v) for k, v in settings.items() if k in table and v is not None})
