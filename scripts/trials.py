"""Issue 23's trials: net shapes compared at equal CPU time, not equal steps.

1. `--rate`: time each shape's training alone (a minute, `--threads` threads, a quiet machine) into
   rates.json. A budget of M minutes is then rate × 60 × M steps, so trials stay comparable even
   when they later run beside other work.
2. Train: each shape runs once, open-ended (rsqrt learning rate, power EMAs), and its weights are
   copied out at every budget, so one run gives all its shorter budgets. Resumable.
3. `--score`: every budget's weights (each EMA, and autoguided by a `--weak` net at `--omegas`) scored by
   `python -m ddpm evaluate`'s measures on DDPM samples, into scores.json.

    python scripts/trials.py --rate --threads 1
    python scripts/trials.py --only n16 n32 --threads 1 &  python scripts/trials.py --only n24 wide16 --threads 1 &
    python scripts/trials.py --score
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm import UNetConfig, load_sprites  # noqa: E402
from ddpm.cli import DEFAULT_DATA  # noqa: E402
from ddpm.train import TrainConfig, ema_path, train  # noqa: E402

# Open-ended recipe: nothing here depends on where the run ends.
BASE = TrainConfig(batch_size=128, lr=1e-3, warmup=200, lr_schedule="rsqrt", lr_ref=3000, ema=0.999,
                   ema_sigma_rels=(0.05, 0.1, 0.2), balance=True, grid_every=0, ckpt_every=500, bf16=False)
SHAPES = {
    "n16": UNetConfig(n_feat=16),  # the shipped shape: 16 / 32 / 64 channels
    "n24": UNetConfig(n_feat=24),
    "n32": UNetConfig(n_feat=32),
    "wide16": UNetConfig(n_feat=32, channel_mult=(1, 1, 2)),  # width at 16×16, where a pixel's colour is decided
}
BUDGETS = (15, 30, 60)  # minutes of CPU time at the measured rate


def steps_per_second(data, unet: UNetConfig, out: Path, seconds: float = 60.0) -> float:
    """Training steps per second of this shape, from a minute of training after a short warm-up."""
    import ddpm.train

    marks: list[float] = []

    class Clock(ddpm.train.tqdm):
        def update(self, n=1):
            marks.append(time.perf_counter())
            if marks[-1] - marks[0] > seconds:
                raise TimeoutError
            return super().update(n)

    original, ddpm.train.tqdm = ddpm.train.tqdm, Clock
    try:
        train(data, out, replace(BASE, steps=10**9, ckpt_every=10**9, unet=unet))
    except TimeoutError:
        pass
    finally:
        ddpm.train.tqdm = original
    warm = marks[20:]  # the first steps include allocation and warm-up
    return (len(warm) - 1) / (warm[-1] - warm[0])


def budget_files(out: Path, name: str, minutes: int) -> dict[str, Path]:
    """The weights kept for one budget: the classic EMA and each power EMA."""
    base = out / f"{name}.{minutes}min.safetensors"
    return {"ema0.999": base, **{f"pema{s:g}": ema_path(base, s) for s in BASE.ema_sigma_rels}}


def score_all(out: Path, names: list[str], budgets: list[int], data, n: int, steps: int, emas: list[str],
              weak: str | None = None, omegas: list[float] = (1.0,)) -> None:
    """Score every finished budget's weights (each of `emas`) on n DDPM samples of seed 0, into scores.json; with a
    weak net, autoguided at each ω too."""
    from ddpm import load_model
    from ddpm.cli import DEFAULT_FEATURE_NET
    from ddpm.engine import TorchEngine
    from ddpm.evaluate import draw, reference, score
    from ddpm.featnet import load_or_train_feature_net
    from ddpm.guidance import autoguide

    path = out / "scores.json"
    scores = json.loads(path.read_text()) if path.is_file() else {}
    net = load_or_train_feature_net(DEFAULT_FEATURE_NET, data)
    ref = reference(net, data)
    for name in names:
        for minutes in budgets:
            for (ema, weights), omega in ((item, omega) for item in budget_files(out, name, minutes).items() for omega in omegas):
                key = f"{name} {minutes}min {ema} ddpm{steps}" + (f" autoguided {Path(weak).stem} ω={omega:g}" if omega != 1 else "")
                if key in scores or not weights.is_file() or ema not in emas:
                    continue
                t0 = time.perf_counter()
                main_net = TorchEngine(load_model(weights, device="cpu"), bf16=False)
                weak_net = TorchEngine(load_model(weak, device="cpu"), bf16=False) if weak else None
                imgs = draw(autoguide(main_net, weak_net, omega), "ddpm", n, 0, steps=steps)
                line = score(imgs, data, net, ref)
                scores[key] = {k: v for k, v in line.items() if not isinstance(v, dict)} | {"seconds": round(time.perf_counter() - t0)}
                print(key, " ".join(f"{k} {v:.4g}" for k, v in scores[key].items()), flush=True)
                # Merged with what is there now: two scoring processes may share the file.
                scores = {**(json.loads(path.read_text()) if path.is_file() else {}), key: scores[key]}
                path.write_text(json.dumps(scores, indent=2) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/trials23")
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--only", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--budgets", nargs="*", type=int, default=list(BUDGETS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rate", action="store_true", help="time each shape alone and write rates.json")
    p.add_argument("--score", action="store_true", help="score every finished budget into scores.json")
    p.add_argument("--n", type=int, default=1000, help="samples per score")
    p.add_argument("--score-steps", type=int, default=100, help="DDPM steps per score (respaced; 500 is the demo's)")
    p.add_argument("--emas", nargs="*", default=["ema0.999", *(f"pema{s:g}" for s in BASE.ema_sigma_rels)], help="which EMAs to score")
    p.add_argument("--weak", default=None, help="a weak net: also score autoguided by it at each --omegas")
    p.add_argument("--omegas", nargs="*", type=float, default=[1.0], help="autoguidance strengths ω (1: the net alone)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_sprites(a.data)
    rates_path = out / "rates.json"
    rates = json.loads(rates_path.read_text()) if rates_path.is_file() else {}
    if a.rate:
        for name in a.only:
            unet = replace(SHAPES[name], n_cfeat=len(data.classes))
            rates[name] = {"steps_per_s": steps_per_second(data, unet, out / "rate.tmp.safetensors"), "threads": a.threads}
            print(f"{name}: {rates[name]['steps_per_s']:.2f} steps/s", flush=True)
            rates_path.write_text(json.dumps(rates, indent=2) + "\n")
        return
    if a.score:
        score_all(out, a.only, a.budgets, data, a.n, a.score_steps, a.emas, a.weak, a.omegas)
        return
    for minutes in sorted(a.budgets):  # every shape's shorter budget first, so comparisons come early
        for name in a.only:
            unet = replace(SHAPES[name], n_cfeat=len(data.classes))
            weights = out / f"{name}.safetensors"
            files = budget_files(out, name, minutes)
            if files["ema0.999"].is_file():
                continue
            steps = round(rates[name]["steps_per_s"] * 60 * minutes)
            cfg = replace(BASE, steps=steps, unet=unet)
            train(data, weights, cfg, resume=True, command=f"scripts/trials.py --only {name}", data_name=Path(a.data).name)
            shutil.copy(weights, files["ema0.999"])
            for s in BASE.ema_sigma_rels:
                shutil.copy(ema_path(weights, s), files[f"pema{s:g}"])
            print(f"{name}: {minutes} min = {steps} steps done", flush=True)


if __name__ == "__main__":
    main()
