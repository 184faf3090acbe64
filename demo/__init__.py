"""The classroom demo's run logic, beside app.py: request checks, the sampling thread, frames, export and
the schedule picture, all without Gradio; and the handlers that app.py wires to Gradio's events (demo.handlers).

Here: the limits and names the page is laid out with, so that app.py needs nothing from the library itself."""
from ddpm import CheckpointError, Schedule
from ddpm.guidance import DEFAULT_GUIDANCE, MIXED
from ddpm.sampler import DDIM_STEPS

from .request import ANY_CLASS, FORWARD_SOURCES, MAX_GUIDANCE, MAX_NOISE_SCALE, MAX_SEED, MAX_SPRITES, MIX, SAMPLERS, VIEWS
from .runner import MAX_VIEWERS

T = Schedule.T  # the course's number of steps

__all__ = ["ANY_CLASS", "CheckpointError", "DDIM_STEPS", "DEFAULT_GUIDANCE", "FORWARD_SOURCES", "MAX_GUIDANCE", "MAX_NOISE_SCALE",
           "MAX_SEED", "MAX_SPRITES", "MAX_VIEWERS", "MIX", "MIXED", "SAMPLERS", "T", "VIEWS"]
