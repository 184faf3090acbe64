"""The classroom demo's run logic, beside app.py: request checks, the sampling thread, frames, export and
the schedule picture, all without Gradio; and the handlers that app.py wires to Gradio's events (demo.handlers).

Here: the limits and names the page is laid out with, so that app.py needs nothing from the library itself."""
from ddpm import CheckpointError, Schedule
from ddpm.guidance import MIXED
from ddpm.sampler import default_steps

from .request import (ALL_SPRITES, ANY_CLASS, COMPUTE, DEFAULTS, FORWARD_SOURCES, MAX_AUTOGUIDANCE, MAX_GUIDANCE, MAX_NOISE_SCALE,
                      MAX_SEED, MAX_SPRITES, MIX, SAMPLERS, VIEWS)
from .runner import MAX_VIEWERS

T = Schedule.T  # the course's number of steps
DDIM_STEPS = default_steps("ddim")

__all__ = ["ALL_SPRITES", "ANY_CLASS", "COMPUTE", "CheckpointError", "DDIM_STEPS", "DEFAULTS", "FORWARD_SOURCES", "MAX_AUTOGUIDANCE",
           "MAX_GUIDANCE", "MAX_NOISE_SCALE", "MAX_SEED", "MAX_SPRITES", "MAX_VIEWERS", "MIX", "MIXED", "SAMPLERS", "T", "VIEWS"]
