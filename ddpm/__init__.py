"""A small DDPM for 16×16 sprites, after lesson 1 of "How Diffusion Models Work".

`import ddpm` loads the core only: schedule, U-Net, samplers, guidance, checkpoints, data and the
engine. Training, evaluation, the benchmark and the CLI are imported where they are used
(`ddpm.train`, `ddpm.evaluate`, `ddpm.bench`, `python -m ddpm`).
"""
from .checkpoint import CheckpointError, load_model, read_classes, save_model
from .data import CLASSES, Sprites, load_course_npy, load_png_folder, load_sheets, load_sprites
from .device import pick_device
from .engine import fast_model
from .denoiser import Denoiser
from .guidance import Guided, class_context, guide
from .noise import SpriteNoise, seeded_noise
from .sampler import Step, denoise_add_noise, predict_x0, q_sample, sample, sample_ddim, sample_ddpm, sample_side_by_side, sampler
from .schedule import Schedule
from .unet import ContextUnet, UNetConfig

__all__ = [
    "CLASSES", "CheckpointError", "ContextUnet", "Denoiser", "Guided", "Schedule", "SpriteNoise", "Sprites", "Step", "UNetConfig",
    "class_context", "denoise_add_noise", "fast_model", "guide",
    "load_course_npy", "load_model", "load_png_folder", "load_sheets", "load_sprites",
    "pick_device", "predict_x0", "q_sample", "read_classes", "sample", "sample_ddim", "sample_ddpm", "sample_side_by_side",
    "sampler", "save_model", "seeded_noise",
]
