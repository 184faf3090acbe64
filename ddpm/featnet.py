"""The feature network behind `evaluate`: a small CNN that sorts sprites into their classes and scores how many of
a sprite's pixels are wrong, so that its features see stray pixels as a viewer does; and the corruptions that
calibrate it (weights/README.md, "The feature net")."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from .data import Sprites, to_tensor

WHITE = 255  # the background every loader composites onto; a sprite's own pixels are the others
MAX_WRONG = 0.4  # training's wrong-pixel share goes up to this
MAX_SIGMA = 0.2  # training's Gaussian noise σ (on [0, 1]) goes up to this: noise a viewer reads past
WRONG_WEIGHT = 3.0  # the wrong-pixel head's target is this × the share (a unit the class loss can live with)


class FeatureNet(nn.Module):
    """Three conv blocks, average-pooled to 4·width features, and a class head (training adds a wrong-pixel head of
    its own: the features must carry what it saw, but evaluate never calls it)."""

    def __init__(self, n_classes: int = 5, width: int = 32) -> None:
        super().__init__()

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                                 nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())

        self.body = nn.Sequential(block(3, width), nn.MaxPool2d(2), block(width, 2 * width), nn.MaxPool2d(2),
                                  block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled (B, 4·width) features of images in [−1, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def sprite_mask(images: np.ndarray) -> np.ndarray:
    """(N, H, W) True where a uint8 sprite on white has a pixel of its own."""
    return (images != WHITE).any(-1)


def wrong_pixels(images: np.ndarray, share: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Set about `share[i]` of sprite i's own pixels wrong: half the sprites get random RGB colours, the others
    colours moved from elsewhere in the same sprite (the right colours in the wrong places). Not the palette
    speckle that calibrates the net, so the calibration tests what the net learnt, not what it was shown."""
    out = images.copy()
    mask = sprite_mask(images)
    pick = mask & (rng.random(mask.shape) < np.asarray(share)[:, None, None])
    random_rgb = rng.random(len(images)) < 0.5
    for i in np.flatnonzero(pick.any((1, 2))):
        where = np.flatnonzero(pick[i].ravel())
        flat = out[i].reshape(-1, 3)
        if random_rgb[i]:
            flat[where] = rng.integers(0, 256, size=(len(where), 3))
        else:
            flat[where] = images[i].reshape(-1, 3)[rng.choice(np.flatnonzero(mask[i].ravel()), len(where))]
    return out


def palette_speckle(images: np.ndarray, share: float, colours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Set each sprite pixel, with probability `share`, to a random colour of `colours`: the calibration's speckle."""
    out = images.copy()
    pick = sprite_mask(images) & (rng.random(images.shape[:3]) < share)
    out[pick] = colours[rng.integers(len(colours), size=int(pick.sum()))]
    return out


def gaussian_noise(images: np.ndarray, sigma: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 images plus Gaussian noise of σ `sigma` (on [0, 1]; one per image or for all), rounded and clipped."""
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64).reshape(-1, 1, 1, 1), (len(images), 1, 1, 1))
    noisy = images + sigma * 255 * rng.standard_normal(images.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def train_feature_net(data: Sprites, steps: int = 3000, seed: int = 0, batch: int = 128) -> FeatureNet:
    """Fit the net to the class labels of `data` and, on half of each batch, to the share of pixels made wrong
    (`wrong_pixels`); every sprite is flipped at random and noised by σ ∈ U(0, MAX_SIGMA), which it must read past."""
    labelled = data.labels >= 0
    images, labels = data.images[labelled], torch.from_numpy(data.labels[labelled])
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = FeatureNet(len(data.classes))
    wrong = nn.Linear(net.head.in_features, 1)  # the wrong-pixel head, for training only
    opt = torch.optim.AdamW([*net.parameters(), *wrong.parameters()], lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    for _ in tqdm(range(steps), desc="feature net", unit="step", leave=False):
        idx = rng.integers(len(images), size=batch)
        x = images[idx]
        x = np.where(rng.random(batch)[:, None, None, None] < 0.5, x[:, :, ::-1], x)
        share = np.where(rng.random(batch) < 0.5, rng.uniform(0, MAX_WRONG, batch), 0.0)
        x = gaussian_noise(wrong_pixels(np.ascontiguousarray(x), share, rng), rng.uniform(0, MAX_SIGMA, batch), rng)
        h = net.features(to_tensor(x))
        target = torch.from_numpy(share).float() * WRONG_WEIGHT
        loss = F.cross_entropy(net.head(h), labels[idx]) + F.mse_loss(wrong(h)[:, 0], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def load_or_train_feature_net(path: Path, data: Sprites) -> FeatureNet:
    """The feature network stored at `path`, trained on `data` and saved there first if absent."""
    if path.is_file():
        state = load_file(str(path))
        net = FeatureNet(n_classes=state["head.bias"].shape[0], width=state["head.weight"].shape[1] // 4)
        net.load_state_dict(state)
        return net.eval()
    net = train_feature_net(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return net
