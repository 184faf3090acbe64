"""Sample quality: Sprite-FID on a small classifier's features, near-copies, diversity, class accuracy."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from .data import Sprites, random_hflip, to_tensor, to_uint8
from .guidance import MIXED, Guided, class_context
from .sampler import Kind, sample, sampler, seeded_noise

NEAR_COPY_RMS = 2 / 255  # a sample this close (RMS over pixels, in [0, 1]) to a training tile is a copy


class FeatureNet(nn.Module):
    """A small CNN classifier of sprite classes; its pooled features stand in for Inception's."""

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


def train_feature_net(data: Sprites, steps: int = 600, seed: int = 0) -> FeatureNet:
    """Fit the feature network to the class labels of `data` (flips as augmentation)."""
    labelled = data.labels >= 0
    x, y = to_tensor(data.images[labelled]), torch.from_numpy(data.labels[labelled])
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = FeatureNet(len(data.classes))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    for _ in tqdm(range(steps), desc="feature net", unit="step", leave=False):
        idx = torch.randint(len(x), (128,), generator=gen)
        loss = F.cross_entropy(net(random_hflip(x[idx], gen)), y[idx])
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


@torch.no_grad()
def features(net: FeatureNet, images: np.ndarray) -> np.ndarray:
    """Feature vectors (N, D) of uint8 sprites, float64 for the covariance."""
    return torch.cat([net.features(to_tensor(images[i : i + 500])) for i in range(0, len(images), 500)]).double().numpy()


@torch.no_grad()
def classify(net: FeatureNet, images: np.ndarray) -> np.ndarray:
    """Predicted class index of each uint8 sprite."""
    return np.concatenate([net(to_tensor(images[i : i + 500])).argmax(1).numpy() for i in range(0, len(images), 500)])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(Σa Σb)^½) of two feature sets (Heusel et al. 2017)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((Σa Σb)^½) = Σ √λ of Σa^½ Σb Σa^½, which is symmetric PSD: eigh is exact and stable.
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(np.clip(lam, 0, None)).sum())


def nearest_rms(samples: np.ndarray, train: np.ndarray) -> np.ndarray:
    """RMS pixel distance (in [0, 1]) from each sample to its nearest training tile or its mirror."""
    ref = np.concatenate([train, train[:, :, ::-1]]).reshape(2 * len(train), -1)
    ref_t = torch.from_numpy(ref).float() / 255
    flat = torch.from_numpy(samples.reshape(len(samples), -1)).float() / 255
    out = [torch.cdist(flat[i : i + 256], ref_t).min(1).values for i in range(0, len(samples), 256)]
    return (torch.cat(out) / np.sqrt(ref.shape[1])).numpy()


def pixel_diversity(samples: np.ndarray) -> float:
    """Mean RMS pixel distance (in [0, 1]) between two different samples."""
    flat = torch.from_numpy(samples.reshape(len(samples), -1)).float() / 255
    d = torch.cdist(flat, flat) / np.sqrt(flat.shape[1])
    n = len(samples)
    return float(d.sum() / (n * (n - 1)))


def draw(model: Callable, kind: Kind, n: int, seed: int, *, noise_scale: float = 1.0, batch: int = 250,
         context: torch.Tensor | None = None, device: torch.device | str = "cpu") -> np.ndarray:
    """n uint8 sprites of `seed` from `model` (called like the U-Net), in batches, with the sampler of that kind."""
    out = []
    x_T, gens = seeded_noise(seed, n)
    for i in tqdm(range(0, n, batch), desc=kind, unit="batch", leave=False):
        c = context[i : i + batch].to(device) if context is not None else None
        steps = sampler(kind, model, x_T[i : i + batch].to(device), noise_scale=noise_scale, generator=gens[i : i + batch], context=c)
        out.append(to_uint8(sample(steps)))
    return np.concatenate(out)


def evaluate(model: Callable, data: Sprites, net: FeatureNet, *, n: int = 1000, seed: int = 0,
             guidance: Sequence[float] = (0.0,), device: torch.device | str = "cpu", log=print) -> dict:
    """The model card's quality figures: one dict per sampler, the real-vs-real floor, and class accuracy
    per classifier-free guidance weight w (0: the plain conditional model). `model` is called like the U-Net."""
    real = features(net, data.images)
    perm = np.random.default_rng(seed).permutation(len(real))
    half = len(real) // 2
    results: dict = {"n_samples": n, "seed": seed, "fid_floor_real_vs_real": frechet_distance(real[perm[:half]], real[perm[half:]])}

    samplers = {"ddpm500_noise1": ("ddpm", 1.0), "ddpm500_noise0": ("ddpm", 0.0), "ddim25": ("ddim", 1.0)}
    for name, (kind, scale) in samplers.items():
        imgs = draw(model, kind, n, seed, noise_scale=scale, device=device)
        nearest = nearest_rms(imgs, data.images)
        results[name] = {
            "fid": frechet_distance(features(net, imgs), real),
            "near_copy_share": float((nearest < NEAR_COPY_RMS).mean()),
            "pixel_diversity": pixel_diversity(imgs),
        }
        log(f"{name:16s} " + "  ".join(f"{k} {v:.4g}" for k, v in results[name].items()))
        # How close samples come to the training tiles: memorisation shows as a low tail long before copies.
        results[name]["nearest_rms_quantiles"] = {f"{q:g}": float(np.quantile(nearest, q)) for q in (0.0, 0.01, 0.05, 0.25, 0.5)}
    context = class_context(MIXED, n, data.classes)  # every class in turn, as `python -m ddpm sample` asks
    labels = context.argmax(1).numpy()
    results["class_accuracy"] = {}
    for w in guidance:
        imgs = draw(Guided(model, w), "ddpm", n, seed + 1, context=context, device=device)
        pred = classify(net, imgs)
        acc = {name: float((pred[labels == i] == i).mean()) for i, name in enumerate(data.classes)}
        results["class_accuracy"][f"w={w:g}"] = acc
        log(f"class accuracy, guidance w={w:g}   " + "  ".join(f"{c} {a:.0%}" for c, a in acc.items()))
    results["feature_net_accuracy_on_data"] = float((classify(net, data.images) == data.labels).mean())
    return results
