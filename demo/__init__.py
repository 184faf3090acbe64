"""The classroom demo's run logic, beside app.py: request checks, the sampling thread, frames, export and
the schedule picture, all without Gradio; and the handlers that app.py wires to Gradio's events (demo.handlers).

Here: the limits and names the page is laid out with, so that app.py needs nothing from the library itself."""
from ddpm import CheckpointError, Schedule
from ddpm.sampler import default_steps

from .request import FORWARD_SOURCES
from .serving import MAX_VIEWERS
from .settings import DEFAULTS, MAX_SPRITES, PACES, RUN, VIEWS

T = Schedule.T  # the course's number of steps
DDIM_STEPS = default_steps("ddim")

__all__ = ["CheckpointError", "DDIM_STEPS", "DEFAULTS", "FORWARD_SOURCES", "MAX_SPRITES", "MAX_VIEWERS", "PACES", "RUN", "T", "VIEWS"]
