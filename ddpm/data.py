"""Sprite data: sheets of 16×16 tiles, the course's .npy arrays, or single PNGs.

Every loader returns `Sprites`: uint8 images (N, 16, 16, 3) on a white background and
integer class labels (N,), −1 where a sprite has no class. `to_tensor` maps them to
[−1, 1] as the course does.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TILE = 16
MIN_OPAQUE = 12  # a tile with fewer opaque pixels is empty (SOURCE.txt of the DawnLike copy)
# The course's five classes, mapped onto DawnLike's sheets as SOURCE.txt suggests.
CLASSES = ("hero", "creature", "food", "weapon", "item")
_WEAPON_SHEETS = {"ShortWep", "MedWep", "LongWep", "Ammo", "Wand", "Scroll", "Potion"}


@dataclass(frozen=True)
class Sprites:
    """Sprite images (N, H, W, 3) uint8 on white, labels (N,) int64, and class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = CLASSES

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[3] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3), got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"need one label per image: {self.labels.shape} for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)


def dawnlike_class(sheet: Path) -> int:
    """Class index of a DawnLike sheet, after the five classes of SOURCE.txt."""
    folder, name = sheet.parent.name, sheet.stem
    if folder == "Commissions" or (folder == "Characters" and name.startswith("Player")):
        return CLASSES.index("hero")
    if folder == "Characters":
        return CLASSES.index("creature")
    if name in ("Food", "Flesh"):
        return CLASSES.index("food")
    if name in _WEAPON_SHEETS or name.startswith("Effect"):
        return CLASSES.index("weapon")
    return CLASSES.index("item")


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Alpha-composite uint8 RGBA pixels onto white; returns uint8 RGB."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255 * (1 - alpha)
    return np.round(rgb).astype(np.uint8)


def cut_sheet(path: Path, tile: int = TILE) -> np.ndarray:
    """The non-empty tile×tile tiles of one RGBA sheet, composited on white: (N, tile, tile, 3)."""
    sheet = np.asarray(Image.open(path).convert("RGBA"))
    rows, cols = sheet.shape[0] // tile, sheet.shape[1] // tile
    tiles = sheet[: rows * tile, : cols * tile].reshape(rows, tile, cols, tile, 4).swapaxes(1, 2).reshape(-1, tile, tile, 4)
    keep = (tiles[..., 3] > 0).sum(axis=(1, 2)) >= MIN_OPAQUE
    return composite_on_white(tiles[keep])


def load_sheets(folder: str | Path) -> Sprites:
    """Every sheet under `folder` (DawnLike layout), cut into tiles, labelled by sheet."""
    folder = Path(folder)
    sheets = sorted(folder.rglob("*.png"))
    if not sheets:
        raise FileNotFoundError(f"no PNG sprite sheets under {folder}")
    images, labels = [], []
    for sheet in sheets:
        tiles = cut_sheet(sheet)
        images.append(tiles)
        labels.append(np.full(len(tiles), dawnlike_class(sheet.relative_to(folder)), dtype=np.int64))
    return Sprites(np.concatenate(images), np.concatenate(labels))


def load_course_npy(sprites: str | Path, labels: str | Path | None = None) -> Sprites:
    """The course's sprites_1788_16x16.npy (N, 16, 16, 3) with its one-hot labels (N, 5)."""
    sprites = Path(sprites)
    labels = Path(labels) if labels is not None else sprites.with_name(sprites.name.replace("sprites_", "sprite_labels_nc_"))
    images = np.load(sprites)
    onehot = np.load(labels)
    if images.ndim != 4 or images.shape[1:] != (TILE, TILE, 3):
        raise ValueError(f"{sprites}: expected (N, 16, 16, 3) sprites, got {images.shape}")
    if onehot.shape != (len(images), len(CLASSES)):
        raise ValueError(f"{labels}: expected ({len(images)}, {len(CLASSES)}) one-hot labels, got {onehot.shape}")
    return Sprites(images.astype(np.uint8), onehot.argmax(axis=1).astype(np.int64))


def load_png_folder(folder: str | Path) -> Sprites:
    """A folder of single 16×16 sprite PNGs (any mode), composited on white, without classes."""
    files = sorted(Path(folder).glob("*.png"))
    if not files:
        raise FileNotFoundError(f"no PNG files in {folder}")
    images = [composite_on_white(np.asarray(Image.open(f).convert("RGBA"))) for f in files]
    bad = [f.name for f, im in zip(files, images) if im.shape[:2] != (TILE, TILE)]
    if bad:
        raise ValueError(f"{folder}: not 16×16: {', '.join(bad[:5])}")
    return Sprites(np.stack(images), np.full(len(images), -1, dtype=np.int64))


def load_sprites(path: str | Path) -> Sprites:
    """Load whichever layout `path` holds: a course .npy, a folder of single sprites, or sheets."""
    path = Path(path)
    if path.suffix == ".npy":
        return load_course_npy(path)
    if not path.exists():
        raise FileNotFoundError(f"no such data path: {path}")
    top = sorted(path.glob("*.png"))
    if top and all(Image.open(f).size == (TILE, TILE) for f in top[:50]):
        return load_png_folder(path)
    return load_sheets(path)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float (N, 3, H, W) in [−1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [−1, 1] → uint8 (N, H, W, 3), clipped."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def random_hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each sprite left–right with probability ½: a flipped sprite is still a sprite."""
    flip = torch.rand(len(x), generator=generator, device="cpu") < 0.5
    return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
