"""Sample quality: Sprite-FID, precision, recall and coverage on the feature net's features (ddpm/featnet.py),
repeats, off-palette pixels, near-copies, diversity, class accuracy; and the feature net's calibration."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from .data import Sprites, to_tensor, to_uint8
from .featnet import FeatureNet, gaussian_noise, palette_speckle
from .guidance import MIXED, class_context, guide
from .denoiser import Denoiser
from .noise import seeded_noise
from .sampler import Kind, sample, sampler

NEAR_COPY_RMS = 2 / 255  # a sample this close (RMS over pixels, in [0, 1]) to a training tile is a copy
OFF_PALETTE_LEVELS = 24  # a pixel farther than this (|ΔR| + |ΔG| + |ΔB|, in 0…255 levels) from every palette colour is off it
PR_K = 3  # the k of improved precision and recall (Kynkäänniemi et al. 2019)
COVERAGE_K = 5  # the k of density and coverage (Naeem et al. 2020, their recommended k)
DISTINCT_RMS = 0.1  # a sample this close (RMS over pixels, in [0, 1]) to an earlier one repeats it
Z0_DISTINCT_RATIO = 0.5  # the z = 0 bar: λ = 0's distinct share at most this × λ = 1's (issue 32)


@torch.no_grad()
def features(net: FeatureNet, images: np.ndarray) -> np.ndarray:
    """Feature vectors (N, D) of uint8 sprites, float64 for the covariance."""
    return torch.cat([net.features(to_tensor(images[i : i + 500])) for i in range(0, len(images), 500)]).double().numpy()


@torch.no_grad()
def classify(net: FeatureNet, images: np.ndarray) -> np.ndarray:
    """Predicted class index of each uint8 sprite."""
    return np.concatenate([net(to_tensor(images[i : i + 500])).argmax(1).numpy() for i in range(0, len(images), 500)])


def class_mix(net: FeatureNet, images: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """The share of uint8 sprites the feature net puts in each class."""
    counts = np.bincount(classify(net, images), minlength=len(classes))
    return {name: float(counts[i] / len(images)) for i, name in enumerate(classes)}


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


def halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of n tiles: the reference half's indices and the other half's, in `rng`'s order."""
    perm = rng.permutation(n)
    return perm[: n // 2], perm[n // 2 :]


def covered(real: np.ndarray, fake: np.ndarray, k: int = COVERAGE_K) -> np.ndarray:
    """Whether each `real` point's ball to its k-th nearest real neighbour holds at least one `fake` point."""
    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    radii = _kth_nearest(r, k)
    return torch.cat([(torch.cdist(r[i : i + 1000], f).min(1).values <= radii[i : i + 1000])
                      for i in range(0, len(r), 1000)]).numpy()


def coverage(real: np.ndarray, fake: np.ndarray, k: int = COVERAGE_K) -> float:
    """Coverage (Naeem et al. 2020, eq. 4): the share of `real` points whose ball holds a `fake` point (`covered`)."""
    return float(covered(real, fake, k).mean())


def manifold(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """Precision, recall and coverage of `fake` features against `real` ones."""
    precision, recall = precision_recall(real, fake)
    return {"precision": precision, "recall": recall, "coverage": coverage(real, fake)}


def distinct_share(images: np.ndarray, rms: float = DISTINCT_RMS) -> float:
    """The share of uint8 images not within pixel RMS `rms` (in [0, 1]) of an earlier one: 1 when all differ,
    1/N when all N repeat the first. Blobs and the same few sprites over and over both count as repeats."""
    flat = torch.from_numpy(images.reshape(len(images), -1)).float() / 255
    d = torch.cdist(flat, flat) / np.sqrt(flat.shape[1])
    earlier = torch.ones_like(d, dtype=torch.bool).tril(-1)  # row i, columns j < i
    repeats = ((d < rms) & earlier).any(1)
    return float(1 - repeats.double().mean())


def palette(images: np.ndarray) -> np.ndarray:
    """The distinct RGB colours of uint8 images (N, H, W, 3), as (P, 3)."""
    return np.unique(images.reshape(-1, 3), axis=0)


def palette_distance(samples: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Each pixel's distance (|ΔR| + |ΔG| + |ΔB|, in 0…255 levels) to its nearest colour of `colours`, flattened."""
    px = torch.from_numpy(samples.reshape(-1, 3).astype(np.int32))
    pal = torch.from_numpy(colours.astype(np.int32))
    return torch.cat([(px[i : i + 65536, None, :] - pal[None]).abs().sum(2).min(1).values
                      for i in range(0, len(px), 65536)]).numpy()


def off_palette_share(samples: np.ndarray, colours: np.ndarray, levels: int = OFF_PALETTE_LEVELS) -> float:
    """Share of the samples' pixels farther than `levels` (summed over R, G and B) from every colour of `colours`."""
    return float((palette_distance(samples, colours) > levels).mean())


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


@dataclass(frozen=True)
class Reference:
    """What every line is scored against. The k-NN measures depend on how many points stand on each side (a ball to
    the 5th nearest of 2,554 tiles is smaller than of 1,277, and 1,000 samples cover fewer balls than 1,277 do), so
    samples and real tiles alike are measured against one half of the tiles: the real line is the other half's
    first n, as many as the samples (Naeem et al. 2020 compare equal numbers). FID uses every tile."""

    every: np.ndarray  # features of every tile (FID)
    tiles: np.ndarray  # indices of the reference half's tiles, in the seed's order
    held: np.ndarray  # indices of the other half's tiles, in the seed's order
    colours: np.ndarray  # the palette (off-palette share)

    @property
    def half(self) -> np.ndarray:
        """Features of the reference half (precision, recall, coverage)."""
        return self.every[self.tiles]


def reference(net: FeatureNet, data: Sprites, seed: int = 0) -> Reference:
    """The reference of `data`: its features, a seeded split into halves, its palette."""
    every = features(net, data.images)
    return Reference(every, *halves(len(data), np.random.default_rng(seed)), palette(data.images))


def score(imgs: np.ndarray, data: Sprites, net: FeatureNet, ref: Reference) -> dict:
    """One sampler line: FID, precision, recall, coverage, distinct share, off-palette share, near-copies and
    diversity of uint8 samples."""
    fake = features(net, imgs)
    nearest = nearest_rms(imgs, data.images)
    return {
        "fid": frechet_distance(fake, ref.every), **manifold(ref.half, fake), "distinct": distinct_share(imgs),
        "off_palette": off_palette_share(imgs, ref.colours),
        "near_copy_share": float((nearest < NEAR_COPY_RMS).mean()),
        "pixel_diversity": pixel_diversity(imgs),
        # Which classes the samples are, by the feature net: an unconditional sampler should draw the tiles' own mix.
        "class_mix": class_mix(net, imgs, data.classes),
        # How close samples come to the training tiles: memorisation shows as a low tail long before copies.
        "nearest_rms_quantiles": {f"{q:g}": float(np.quantile(nearest, q)) for q in (0.0, 0.01, 0.05, 0.25, 0.5)},
    }


CALIBRATION_SPECKLE = 0.2  # share of sprite pixels set to random palette colours: must fall below precision 0.6
CALIBRATION_SIGMA = 0.1  # Gaussian noise (on [0, 1]) a viewer reads past: must stay above precision 0.85


def calibrate(net: FeatureNet, data: Sprites, seed: int = 0) -> dict:
    """Precision, recall and coverage against one half of the real tiles of: the other half, that half with
    palette speckle, and that half with Gaussian noise (issue 32's calibration; weights/README.md)."""
    rng = np.random.default_rng(seed)  # the split is reference()'s; the corruptions draw on after it
    half, rest = halves(len(data), rng)
    real, held = features(net, data.images[half]), data.images[rest]
    cases = {"real_half": held,
             f"speckle_{CALIBRATION_SPECKLE:g}": palette_speckle(held, CALIBRATION_SPECKLE, palette(data.images), rng),
             f"gaussian_{CALIBRATION_SIGMA:g}": gaussian_noise(held, CALIBRATION_SIGMA, rng)}
    return {name: manifold(real, features(net, imgs)) for name, imgs in cases.items()}


def evaluate(model: Denoiser, data: Sprites, net: FeatureNet, *, n: int = 1000, seed: int = 0,
             guidance: Sequence[float] = (0.0,), device: torch.device | str = "cpu", log=print) -> dict:
    """The model card's quality figures: one dict per sampler, the real-vs-real floor, and class accuracy
    per classifier-free guidance weight w (0: the plain conditional model)."""
    ref = reference(net, data, seed)
    held = ref.every[ref.held[:n]]  # real tiles in the samples' place: as many, against the same half
    results: dict = {"n_samples": n, "seed": seed, "real_vs_real": {
        "fid": frechet_distance(ref.half, ref.every[ref.held]), **manifold(ref.half, held), "n_held": len(held),
        "distinct": distinct_share(data.images),
        "off_palette": off_palette_share(data.images, ref.colours),
        "class_mix": {name: float((data.labels == i).mean()) for i, name in enumerate(data.classes)}}}
    log(f"{'real_vs_real':16s} " + "  ".join(f"{k} {v:.4g}" for k, v in results["real_vs_real"].items() if k != "class_mix"))
    log(f"{'class mix':16s} " + "  ".join(f"{k} {v:.0%}" for k, v in results["real_vs_real"]["class_mix"].items()))
    results["calibration"] = calibrate(net, data, seed)
    for name, line in results["calibration"].items():
        log(f"{'calibration ' + name:28s} " + "  ".join(f"{k} {v:.3f}" for k, v in line.items()))

    samplers = {"ddpm500_noise1": ("ddpm", 1.0), "ddpm500_noise0": ("ddpm", 0.0), "ddim25": ("ddim", 1.0)}
    for name, (kind, scale) in samplers.items():
        imgs = draw(model, kind, n, seed, noise_scale=scale, device=device)
        results[name] = score(imgs, data, net, ref)
        log(f"{name:16s} " + "  ".join(f"{k} {v:.4g}" for k, v in results[name].items() if not isinstance(v, dict)))
        log(f"{'class mix':16s} " + "  ".join(f"{k} {v:.0%}" for k, v in results[name]["class_mix"].items()))
    # Lesson 1's collapse, counted as repeats: the z = 0 arm must be at most half as distinct as the noisy one.
    results["z0_distinct_ratio"] = results["ddpm500_noise0"]["distinct"] / results["ddpm500_noise1"]["distinct"]
    log(f"z = 0 arm's distinct share / the noisy arm's: {results['z0_distinct_ratio']:.3f} (bar ≤ {Z0_DISTINCT_RATIO:g})")
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
