"""Sample quality: Sprite-FID, precision and recall on a small classifier's features, off-palette pixels,
near-copies, diversity, class accuracy."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from .data import Sprites, random_hflip, to_tensor, to_uint8
from .guidance import MIXED, class_context, guide
from .denoiser import Denoiser
from .noise import seeded_noise
from .sampler import Kind, sample, sampler

NEAR_COPY_RMS = 2 / 255  # a sample this close (RMS over pixels, in [0, 1]) to a training tile is a copy
OFF_PALETTE_LEVELS = 24  # a pixel farther than this (|ΔR| + |ΔG| + |ΔB|, in 0…255 levels) from every palette colour is off it
PR_K = 3  # the k of improved precision and recall (Kynkäänniemi et al. 2019)


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


def _kth_nearest(a: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of `a` to its k-th nearest other row."""
    d = torch.cdist(a, a)
    return d.kthvalue(k + 1, dim=1).values  # +1: each row's nearest is itself, at 0


def _covered(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Whether each point lies in at least one ball (centre, radius)."""
    return torch.cat([(torch.cdist(points[i : i + 1000], centres) <= radii).any(1) for i in range(0, len(points), 1000)])


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_K) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, eqs. 1–3): the share of `fake` inside the real
    manifold (balls to each real point's k-th nearest real neighbour), and the share of `real` inside the fake one."""
    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    precision = _covered(f, r, _kth_nearest(r, k)).double().mean().item()
    recall = _covered(r, f, _kth_nearest(f, k)).double().mean().item()
    return precision, recall


def palette(images: np.ndarray) -> np.ndarray:
    """The distinct RGB colours of uint8 images (N, H, W, 3), as (P, 3)."""
    return np.unique(images.reshape(-1, 3), axis=0)


def off_palette_share(samples: np.ndarray, colours: np.ndarray, levels: int = OFF_PALETTE_LEVELS) -> float:
    """Share of the samples' pixels farther than `levels` (summed over R, G and B) from every colour of `colours`."""
    px = torch.from_numpy(samples.reshape(-1, 3).astype(np.int32))
    pal = torch.from_numpy(colours.astype(np.int32))
    nearest = torch.cat([(px[i : i + 65536, None, :] - pal[None]).abs().sum(2).min(1).values for i in range(0, len(px), 65536)])
    return float((nearest > levels).double().mean())


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


def draw(model: Denoiser, kind: Kind, n: int, seed: int, *, noise_scale: float = 1.0, batch: int = 250,
         context: torch.Tensor | None = None, device: torch.device | str = "cpu", steps: int | None = None) -> np.ndarray:
    """n uint8 sprites of `seed` from `model`, in batches, with the sampler of that kind and steps."""
    out = []
    x_T, noise = seeded_noise(seed, n)
    for i in tqdm(range(0, n, batch), desc=kind, unit="batch", leave=False):
        c = context[i : i + batch].to(device) if context is not None else None
        walk = sampler(kind, model, x_T[i : i + batch].to(device), steps=steps, noise_scale=noise_scale,
                       noise=noise[i : i + batch], context=c)
        out.append(to_uint8(sample(walk)))
    return np.concatenate(out)


def score(imgs: np.ndarray, data: Sprites, net: FeatureNet, real: np.ndarray, colours: np.ndarray) -> dict:
    """One sampler line: FID, precision, recall, off-palette share, near-copies and diversity of uint8 samples."""
    fake = features(net, imgs)
    precision, recall = precision_recall(real, fake)
    nearest = nearest_rms(imgs, data.images)
    return {
        "fid": frechet_distance(fake, real), "precision": precision, "recall": recall,
        "off_palette": off_palette_share(imgs, colours),
        "near_copy_share": float((nearest < NEAR_COPY_RMS).mean()),
        "pixel_diversity": pixel_diversity(imgs),
        # How close samples come to the training tiles: memorisation shows as a low tail long before copies.
        "nearest_rms_quantiles": {f"{q:g}": float(np.quantile(nearest, q)) for q in (0.0, 0.01, 0.05, 0.25, 0.5)},
    }


def evaluate(model: Denoiser, data: Sprites, net: FeatureNet, *, n: int = 1000, seed: int = 0,
             guidance: Sequence[float] = (0.0,), device: torch.device | str = "cpu", log=print) -> dict:
    """The model card's quality figures: one dict per sampler, the real-vs-real floor, and class accuracy
    per classifier-free guidance weight w (0: the plain conditional model)."""
    real = features(net, data.images)
    colours = palette(data.images)
    perm = np.random.default_rng(seed).permutation(len(real))
    half = len(real) // 2
    precision, recall = precision_recall(real[perm[:half]], real[perm[half:]])
    results: dict = {"n_samples": n, "seed": seed, "real_vs_real": {
        "fid": frechet_distance(real[perm[:half]], real[perm[half:]]), "precision": precision, "recall": recall,
        "off_palette": off_palette_share(data.images, colours)}}
    log(f"{'real_vs_real':16s} " + "  ".join(f"{k} {v:.4g}" for k, v in results["real_vs_real"].items()))

    samplers = {"ddpm500_noise1": ("ddpm", 1.0), "ddpm500_noise0": ("ddpm", 0.0), "ddim25": ("ddim", 1.0)}
    for name, (kind, scale) in samplers.items():
        imgs = draw(model, kind, n, seed, noise_scale=scale, device=device)
        results[name] = score(imgs, data, net, real, colours)
        log(f"{name:16s} " + "  ".join(f"{k} {v:.4g}" for k, v in results[name].items() if not isinstance(v, dict)))
    context = class_context(MIXED, n, data.classes)  # every class in turn, as `python -m ddpm sample` asks
    labels = context.argmax(1).numpy()
    results["class_accuracy"] = {}
    for w in guidance:
        imgs = draw(guide(model, w, context), "ddpm", n, seed + 1, context=context, device=device)
        pred = classify(net, imgs)
        acc = {name: float((pred[labels == i] == i).mean()) for i, name in enumerate(data.classes)}
        results["class_accuracy"][f"w={w:g}"] = acc
        log(f"class accuracy, guidance w={w:g}   " + "  ".join(f"{c} {a:.0%}" for c, a in acc.items()))
    results["feature_net_accuracy_on_data"] = float((classify(net, data.images) == data.labels).mean())
    return results
