"""Score weights files as the long run's curve does: evaluate's measures on 1,000 unconditional DDPM samples of seed 0.

The same `ddpm.evaluate.score` as `python -m ddpm evaluate`, on DDPM respaced to --steps (100 for a trend point: the
demo's 500 cost five times as much), eager torch fp32 so the numbers reproduce on any CPU kind. One JSON line a file.

    python scripts/score_weights.py resume/sprites-n24.ema0.050.safetensors [MORE.safetensors ...] [--steps 100]
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ddpm import load_model, load_sprites  # noqa: E402
from ddpm.cli import DEFAULT_DATA, DEFAULT_FEATURE_NET  # noqa: E402
from ddpm.engine import TorchEngine  # noqa: E402
from ddpm.evaluate import draw, reference, score  # noqa: E402
from ddpm.featnet import load_or_train_feature_net  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="+")
    p.add_argument("--steps", type=int, default=100, help="DDPM steps (respaced below 500)")
    a = p.parse_args()
    data = load_sprites(DEFAULT_DATA)
    net = load_or_train_feature_net(DEFAULT_FEATURE_NET, data)
    ref = reference(net, data)
    for path in a.weights:
        t0 = time.perf_counter()
        imgs = draw(TorchEngine(load_model(path, device="cpu"), bf16=False), "ddpm", 1000, 0, steps=a.steps)
        line = score(imgs, data, net, ref)
        print(json.dumps({"weights": path} | {k: v for k, v in line.items() if not isinstance(v, dict)}
                         | {"seconds": round(time.perf_counter() - t0)}), flush=True)


if __name__ == "__main__":
    main()
