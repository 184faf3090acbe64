"""The classroom demo's run logic, beside app.py: request checks, the sampling thread, frames, export,
the schedule picture, and the handlers that app.py wires to Gradio's events."""
from ddpm import CheckpointError, Schedule
from ddpm.guidance import DEFAULT_GUIDANCE, MIXED
from ddpm.sampler import DDIM_STEPS

from .handlers import (FORWARD_SOURCES, compare, default_steps, denoise, downloads, final_frame, first_schedule_image, forward, model, race,
                       random_seed, scrubber, show_frame)
from .i18n import I18N, label
from .runner import MAX_VIEWERS
from .request import ANY_CLASS, MAX_GUIDANCE, MIX, MAX_NOISE_SCALE, MAX_SEED, MAX_SPRITES, SAMPLERS, VIEWS

T = Schedule.T  # the course's number of steps

__all__ = [
    "ANY_CLASS", "CheckpointError", "DDIM_STEPS", "DEFAULT_GUIDANCE", "FORWARD_SOURCES", "I18N", "MAX_GUIDANCE", "MAX_NOISE_SCALE",
    "MAX_SEED", "MAX_SPRITES", "MAX_VIEWERS", "MIX", "MIXED", "SAMPLERS", "T", "VIEWS", "compare", "default_steps", "denoise", "downloads",
    "final_frame", "first_schedule_image", "forward", "label", "model", "race", "random_seed", "scrubber", "show_frame",
]
