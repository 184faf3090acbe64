"""A small DDPM for 16×16 sprites, after lesson 1 of "How Diffusion Models Work"."""
from .checkpoint import CheckpointError, load_model, save_model
from .data import CLASSES, Sprites, load_course_npy, load_png_folder, load_sheets, load_sprites
from .device import pick_device
from .guidance import Guided
from .sampler import Step, denoise_add_noise, predict_x0, sample, sample_ddim, sample_ddpm, sample_side_by_side, seeded_generators, seeded_noise
from .schedule import Schedule
from .train import TrainConfig, train
from .unet import ContextUnet, UNetConfig

__all__ = [
    "CLASSES", "CheckpointError", "ContextUnet", "Guided", "Schedule", "Sprites", "Step", "TrainConfig", "UNetConfig",
    "denoise_add_noise", "load_course_npy", "load_model", "load_png_folder", "load_sheets", "load_sprites",
    "pick_device", "predict_x0", "sample", "sample_ddim", "sample_ddpm", "sample_side_by_side", "save_model", "seeded_generators",
    "seeded_noise", "train",
]
