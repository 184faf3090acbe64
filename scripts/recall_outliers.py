"""How much of the z = 0 arm's recall hangs on a few generated sprites: evaluate's recall with the largest balls dropped.

Improved recall (k = 3, ddpm.evaluate.precision_recall) puts a ball around each generated sprite out to its k-th
nearest generated neighbour; a lone sprite among collapsed ones gets a huge ball. For each weights file this prints
λ = 0's recall (DDPM-500, 1,000 sprites of seed 0, fp32) with all balls and without the 1, 5, 10 and 20 largest.

    python scripts/recall_outliers.py weights/sprites.safetensors [MORE.safetensors ...]
"""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm import load_sprites
from ddpm.cli import DEFAULT_DATA, DEFAULT_FEATURE_NET
from ddpm.engine import fast_model
from ddpm.evaluate import PR_K, _covered, _kth_nearest, draw, features
from ddpm.featnet import load_or_train_feature_net


def main(paths: list[str]) -> None:
    data = load_sprites(DEFAULT_DATA)
    net = load_or_train_feature_net(DEFAULT_FEATURE_NET, data)
    real = torch.from_numpy(features(net, data.images))
    for path in paths:
        fake = torch.from_numpy(features(net, draw(fast_model(path, bf16=False), "ddpm", 1000, 0, noise_scale=0.0)))
        radii = _kth_nearest(fake, PR_K)
        line = {"weights": path, "recall": _covered(real, fake, radii).double().mean().item(),
                "fake_radius_median_max": [float(radii.median()), float(radii.max())],
                "real_radius_median": float(_kth_nearest(real, PR_K).median())}
        for drop in (1, 5, 10, 20):
            keep = radii.argsort()[: len(radii) - drop]
            line[f"recall_without_{drop}_largest"] = _covered(real, fake[keep], radii[keep]).double().mean().item()
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
