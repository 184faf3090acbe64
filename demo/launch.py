"""How app.py launches the page: cross-origin isolated (demo/isolation.py), with a queue that does not spin when idle."""
from __future__ import annotations

import gradio as gr

from .isolation import app_kwargs

# Gradio's queue looks for new events every 1 ms and for progress to send every 10 ms when it is free (Linux;
# gradio/queueing.py): 7 % of a core while nobody asks for anything, which a run in a browser pays for its whole
# length. Gradio's own values on Windows, 50 and 100 ms, cost a press at most 50 ms and the idle server little
# (docs/performance.md, "In the browser"); the page shows no progress bars. Gradio is pinned (requirements.txt).
POLL_S = {"sleep_when_free": 0.05, "progress_update_sleep_when_free": 0.1}


def launch(blocks: gr.Blocks, **kwargs) -> None:
    """blocks.launch(**kwargs), isolated, its queue polling at POLL_S when free."""
    queue = getattr(blocks, "_queue", None)
    for name, seconds in POLL_S.items():
        if hasattr(queue, name):
            setattr(queue, name, max(getattr(queue, name), seconds))
    blocks.launch(**kwargs, app_kwargs=app_kwargs())
