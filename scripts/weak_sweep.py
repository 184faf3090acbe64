"""Which weak net, which ω and which interval of t: evaluate's measures on both arms (λ = 1 and λ = 0) of 1,000 unconditional DDPM-500
samples of seed 0, for each weak net, ω and interval given. One JSON line each (issue 32's sweep; weights/README.md).
The samples are kept in --keep (one .npy an arm) and reused when there, so a new feature net rescores them for free.

    python scripts/weak_sweep.py --weak runs/weak/n8-1000.safetensors runs/weak/n8-3000.safetensors --omega 1.25 1.5
    python scripts/weak_sweep.py --weak weights/sprites.weak.safetensors --omega 2 2.5 --interval 150,350 100,350
    python scripts/weak_sweep.py --weights runs/trial/control.ema0.050.safetensors --weak weights/sprites.weak.safetensors \
        --omega 1.4 --noisy-only --keep runs/trial/control
    python scripts/weak_sweep.py --weak weights/sprites.weak.safetensors --omega 3 --noisy-only --tile-mix --keep runs/probe
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ddpm import load_sprites  # noqa: E402
from ddpm.checkpoint import DEFAULT_WEIGHTS  # noqa: E402
from ddpm.cli import DEFAULT_DATA, DEFAULT_FEATURE_NET  # noqa: E402
from ddpm.engine import fast_model  # noqa: E402
from ddpm.evaluate import draw, reference, score  # noqa: E402
from ddpm.featnet import load_or_train_feature_net  # noqa: E402
from ddpm.guidance import DEFAULT_INTERVAL, autoguide  # noqa: E402
from ddpm.selfcond import SelfConditioned  # noqa: E402


def interval(text: str) -> tuple[int, int]:
    """"lo,hi" → (lo, hi)."""
    lo, hi = map(int, text.split(","))
    return lo, hi


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.add_argument("--weak", nargs="+", required=True)
    p.add_argument("--omega", nargs="+", type=float, required=True)
    p.add_argument("--interval", nargs="+", type=interval, default=[DEFAULT_INTERVAL],
                   help="lo,hi: the steps t where the weak net is called (ddpm.guidance.AutoGuided)")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--fp32", action="store_true", help="eager-torch fp32 rather than the fast engine")
    p.add_argument("--eager", action="store_true",
                   help="eager torch at the CPU's precision (to pair a net with a self-conditioned one, which runs on nothing else)")
    p.add_argument("--keep", default="runs/sweep", help="folder for the samples")
    p.add_argument("--noisy-only", action="store_true", help="only the λ = 1 arm (a trial's quality, not the z = 0 bar)")
    p.add_argument("--tile-mix", action="store_true",
                   help="each sprite asks for a class drawn in the tiles' own mix (w = 0, ε̂(c)): the marginal by way of the classes")
    a = p.parse_args()
    data = load_sprites(DEFAULT_DATA)
    context = None
    if a.tile_mix:  # seeded, so that a rerun draws the same classes
        labels = np.random.default_rng(0).choice(data.labels[data.labels >= 0], a.n)
        context = torch.nn.functional.one_hot(torch.from_numpy(labels), len(data.classes)).float()
    main = fast_model(a.weights, bf16=False if a.fp32 else None, openvino=not (a.fp32 or a.eager))
    denoiser = SelfConditioned(main) if main.config.self_cond else main
    runs = [(weak_file, omega, span) for weak_file in a.weak for omega in a.omega for span in a.interval]
    arms = (("noise1", 1.0),) if a.noisy_only else (("noise1", 1.0), ("noise0", 0.0))
    kept = {}
    for weak_file in a.weak:  # every sample first, so that scoring them waits on nothing
        weak = fast_model(weak_file, main.device, bf16=False if a.fp32 else None, openvino=not (a.fp32 or a.eager))
        for _, omega, span in (run for run in runs if run[0] == weak_file):
            on = ("" if span == (1, 500) else f"_t{span[0]}-{span[1]}") + ("_tilemix" if a.tile_mix else "")
            for arm, scale in arms:
                path = Path(a.keep) / f"{Path(weak_file).stem}_w{omega:g}{on}_{arm}_n{a.n}.npy"
                kept[weak_file, omega, span, arm] = path
                if not path.is_file():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    guided = autoguide(denoiser, weak, omega, span)
                    np.save(path, draw(guided, "ddpm", a.n, 0, noise_scale=scale, context=context, device=main.device))
    net = load_or_train_feature_net(DEFAULT_FEATURE_NET, data)
    ref = reference(net, data)
    for weak_file, omega, span in runs:
        line = {"weights": a.weights, "weak": weak_file, "omega": omega, "interval": span, "engine": main.name}
        for arm, _ in arms:
            imgs = np.load(kept[weak_file, omega, span, arm])
            line[arm] = {k: v for k, v in score(imgs, data, net, ref).items() if not isinstance(v, dict)}
        if not a.noisy_only:
            line["distinct_ratio"] = line["noise0"]["distinct"] / line["noise1"]["distinct"]
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
