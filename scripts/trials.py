"""Issue 12's recipe trials: short training runs of one budget, each scored by Sprite-FID.

Every trial changes one lever of the baseline recipe and trains from scratch for the same number
of sprites; the score is the Sprite-FID of 1,000 DDIM-25 samples of seed 0 (the `ddim25` line of
`python -m ddpm evaluate`, 20× cheaper than DDPM-500). Resumable: a finished trial is read back from
the results file, a cut-off one resumes from its state.

    python scripts/trials.py --steps 1000 --out runs/trials [--only baseline min-snr-5]
    python scripts/trials.py --out runs/trials --rescore 1 2 --only baseline    # the score's spread over sample seeds
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm import UNetConfig, load_model, load_sprites  # noqa: E402
from ddpm.cli import DEFAULT_DATA, DEFAULT_FEATURE_NET  # noqa: E402
from ddpm.engine import TorchEngine  # noqa: E402
from ddpm.evaluate import draw, features, frechet_distance, load_or_train_feature_net  # noqa: E402
from ddpm.train import TrainConfig, train  # noqa: E402

# EMA 0.995 here: at a thousand steps, 0.999 would still average in the first, untrained weights.
BASE = TrainConfig(batch_size=128, lr=1e-3, ema=0.995, warmup=100, grid_every=0, ckpt_every=250, unet=UNetConfig(n_feat=16))
# One lever each; the batch-64 trial takes twice the steps, so every trial sees the same sprites.
TRIALS = {
    "baseline": {},
    "n-feat-24": {"unet": replace(BASE.unet, n_feat=24)},
    "n-feat-32": {"unet": replace(BASE.unet, n_feat=32)},
    "min-snr-5": {"min_snr_gamma": 5.0},
    "balanced": {"balance": True},
    "lr-2e-3": {"lr": 2e-3},
    "ema-0.999": {"ema": 0.999},
    "batch-64": {"batch_size": 64, "steps_factor": 2},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--out", default="runs/trials")
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--only", nargs="*", default=list(TRIALS), choices=list(TRIALS))
    p.add_argument("--rescore", nargs="*", type=int, default=[],
                   help="score finished trials again with these sample seeds (into rescore.json) instead of training")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    data = load_sprites(a.data)
    net = load_or_train_feature_net(DEFAULT_FEATURE_NET, data)
    real = features(net, data.images)
    if a.rescore:  # a file of its own: a trial run in progress rewrites results.json
        rescore_path = out / "rescore.json"
        scores = json.loads(rescore_path.read_text()) if rescore_path.is_file() else {}
        for name in a.only:
            for seed in a.rescore:
                imgs = draw(TorchEngine(load_model(out / f"{name}.safetensors", device="cpu")), "ddim", 1000, seed)
                scores.setdefault(name, {})[str(seed)] = frechet_distance(features(net, imgs), real)
                print(f"{name}, sample seed {seed}: FID {scores[name][str(seed)]:.2f}", flush=True)
                rescore_path.write_text(json.dumps(scores, indent=2) + "\n")
        return
    for name in a.only:
        if name in results:
            print(f"{name}: done before, FID {results[name]['fid_ddim25']:.2f}")
            continue
        change = dict(TRIALS[name])
        steps = a.steps * change.pop("steps_factor", 1)
        cfg = replace(BASE, steps=steps, **change)
        weights = out / f"{name}.safetensors"
        t0 = time.perf_counter()
        losses = train(data, weights, cfg, resume=True, command=f"scripts/trials.py {name}", data_name=Path(a.data).name)
        imgs = draw(TorchEngine(load_model(weights, device="cpu")), "ddim", 1000, 0)
        results[name] = {"change": {k: str(v) for k, v in change.items()}, "steps": steps, "batch": cfg.batch_size,
                         "fid_ddim25": frechet_distance(features(net, imgs), real),
                         "final_loss": sum(losses[-200:]) / len(losses[-200:]), "seconds": round(time.perf_counter() - t0)}
        print(f"{name}: {results[name]}", flush=True)
        results_path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
