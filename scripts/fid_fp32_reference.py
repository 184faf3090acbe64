"""Sprite-FID of 500-step DDPM (λ = 1) sampled in fp32, the course loop's precision, for comparison with
the bf16 fast path's figure from `python -m ddpm evaluate` (same weights, seed, sprites and noise).

    python scripts/fid_fp32_reference.py [--weights FILE] [--n 1000] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere, without installing
from ddpm import Schedule, load_model, load_sprites, sample_ddpm
from ddpm.cli import DEFAULT_DATA, DEFAULT_FEATURE_NET
from ddpm.evaluate import draw, features, frechet_distance, load_or_train_feature_net


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", default=None, help="default: as `python -m ddpm evaluate`")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    model, data = load_model(a.weights), load_sprites(DEFAULT_DATA)
    net = load_or_train_feature_net(Path(DEFAULT_FEATURE_NET), data)
    schedule = Schedule()
    # The same draw as evaluate()'s "ddpm500_noise1", with bf16 off.
    imgs = draw(model, lambda x, g, c: sample_ddpm(model, schedule, x, noise_scale=1.0, generator=g, context=c), a.n, a.seed, bf16=False)
    print(f"ddpm500_noise1 fp32: Sprite-FID {frechet_distance(features(net, imgs), features(net, data.images)):.2f}")


if __name__ == "__main__":
    main()
