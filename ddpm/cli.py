"""`python -m ddpm train | sample | journey | evaluate | bench | export | info`."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import DEFAULT_WEIGHTS, CheckpointError, load_model, read_classes, read_meta, weak_path
from .data import load_sprites, to_uint8
from .engine import Engine, export_ir, fast_model
from .denoiser import Denoiser
from .guidance import DEFAULT_AUTOGUIDANCE, DEFAULT_GUIDANCE, MIXED, AutoGuided, autoguidance, class_context, guide
from .images import make_grid, upscale, write_animation, write_png
from .noise import SpriteNoise, seeded_noise
from .sampler import KINDS, default_steps, sampler
from .schedule import Schedule
from .unet import UNetConfig

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dawnlike"
DEFAULT_FEATURE_NET = DEFAULT_WEIGHTS.with_name("featnet.safetensors")
OUTPUT_SUFFIXES = (".png", ".gif", ".mp4", ".npy")
NO_CLASS = "none"


def _pixel(text: str) -> tuple[int, int]:
    """"X,Y" → (x, y), each 0 … 15."""
    try:
        x, y = map(int, text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a pixel is X,Y, two whole numbers, got {text!r}") from None
    if not (0 <= x < 16 and 0 <= y < 16):
        raise argparse.ArgumentTypeError(f"a pixel's X and Y are 0 … 15, got {text!r}")
    return x, y


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _autoguidance_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--autoguidance", type=float, default=DEFAULT_AUTOGUIDANCE,
                   help="autoguidance strength ω ≥ 1: guided by a weaker copy of the net (1: the net alone); "
                        "used where a weak net is found")
    p.add_argument("--weak", default=None, help="the weak net (default: NAME.weak.safetensors beside --weights, if there)")


def _sampler_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sampler", choices=KINDS, default="ddpm")
    p.add_argument("--steps", type=_positive(int), default=None,
                   help=f"ddpm: {default_steps('ddpm')} (fewer = respaced); ddim: {default_steps('ddim')}")


def _bf16_flag(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--bf16", dest="bf16", action="store_true", default=None, help="force bf16 autocast")
    g.add_argument("--fp32", dest="bf16", action="store_false", help="force fp32")


def cmd_train(a: argparse.Namespace) -> None:
    from .train import TrainConfig, train

    data = load_sprites(a.data)
    counts = np.bincount(data.labels[data.labels >= 0], minlength=len(data.classes))
    print(f"{len(data)} sprites from {a.data}: " + ", ".join(f"{c} {n}" for c, n in zip(data.classes, counts)))
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = TrainConfig(steps=a.steps, batch_size=a.batch_size, lr=a.lr, warmup=a.warmup, lr_schedule=a.lr_schedule, lr_ref=a.lr_ref,
                      ema=a.ema, ema_sigma_rels=tuple(a.ema_sigma_rels), p_uncond=a.p_uncond,
                      min_snr_gamma=a.min_snr_gamma, t_band=a.t_band,
                      input_perturbation=a.input_perturbation, balance=a.balance, uncond_data_mix=a.uncond_data_mix,
                      flip=not a.no_flip, seed=a.seed, bf16=a.bf16, ckpt_every=a.ckpt_every, grid_every=a.grid_every,
                      unet=UNetConfig(n_feat=a.n_feat, n_cfeat=len(data.classes), attention=not a.no_attention,
                                      self_cond=a.self_cond))
    command = "python -m ddpm " + shlex.join(sys.argv[1:])
    losses = train(data, a.out, cfg, resume=a.resume, init=a.init, command=command, data_name=Path(a.data).name)
    print(f"wrote {a.out}; mean loss over the last 200 steps {np.mean(losses[-200:]):.4f}")


def denoiser(a: argparse.Namespace, weights: Path, openvino: bool = True) -> tuple[Engine, Denoiser, str]:
    """The main net's engine, the denoiser to sample with (autoguided by the weak net beside the weights where
    there is one), and a line saying which."""
    fast = fast_model(weights, bf16=a.bf16, openvino=openvino)
    weak_file = Path(a.weak) if a.weak else weak_path(weights)
    if a.weak and not weak_file.is_file():
        raise CheckpointError(f"weak net not found: {weak_file}")
    spec = autoguidance(a.autoguidance, weak_file.is_file())
    if spec is None:
        return fast, fast, f"{fast.name}, no autoguidance"
    weak = fast_model(weak_file, fast.device, bf16=a.bf16, openvino=openvino)
    lo, hi = spec.interval
    return (fast, AutoGuided(fast, weak, spec.strength, spec.interval),
            f"{fast.name}, autoguided by {weak_file.name} at ω = {spec.strength:g} on t {lo}–{hi}")


def _run_setup(a: argparse.Namespace, n: int) -> tuple[torch.device, Denoiser, torch.Tensor, SpriteNoise, torch.Tensor | None]:
    """What `sample` and `journey` share: the device, the (auto)guided denoiser for --class and --guidance, and the
    seed's x_T, noise and contexts for n sprites."""
    weights = Path(a.weights or DEFAULT_WEIGHTS)
    fast, model, said = denoiser(a, weights)
    print(said)
    x_T, noise = seeded_noise(a.seed, n)
    c = class_context(None if a.class_name == NO_CLASS else a.class_name, n, read_classes(weights))
    return fast.device, guide(model, a.guidance, c), x_T, noise, c.to(fast.device) if c is not None else None


def cmd_sample(a: argparse.Namespace) -> None:
    out = Path(a.out)
    if out.suffix not in OUTPUT_SUFFIXES:
        raise SystemExit(f"--out must end in one of {', '.join(OUTPUT_SUFFIXES)}, not {out.name!r}")
    device, model, x_T, noise, c = _run_setup(a, a.n)
    steps = sampler(a.sampler, model, x_T.to(device), steps=a.steps, noise_scale=a.noise_scale, noise=noise, context=c)
    frames, x = [], x_T
    want_frames = out.suffix in (".gif", ".mp4")
    total = a.steps or default_steps(a.sampler)
    for done, step in enumerate(tqdm(steps, total=total, desc=a.sampler, unit="step"), start=1):
        x = step.x
        # Frames every 1 % of the run and the last one, so a long run stays a short animation.
        if want_frames and (done % max(1, total // 100) == 0 or step.t <= 1):
            frames.append(upscale(make_grid(to_uint8(x)), a.scale))
    images = to_uint8(x)
    if out.suffix == ".npy":
        np.save(out, images)
    elif out.suffix == ".png":
        write_png(upscale(make_grid(images), a.scale), out)
    else:
        write_animation(frames, out)
    print(f"wrote {out}")


def cmd_journey(a: argparse.Namespace) -> None:
    from .images import stack
    from .journey import collect, picture
    from .pixel import plot, step_text, trace

    out = Path(a.out)
    if out.suffix != ".png":
        raise SystemExit(f"--out must end in .png, not {out.name!r}")
    n = a.sprite  # sprites 1 … n of the seed are drawn, so that sprite a.sprite gets the same noise as in a run of n or more
    device, model, x_T, noise, c = _run_setup(a, n)
    both = a.sampler == "ddpm" and not a.one_arm
    total = a.steps or default_steps(a.sampler)
    walk = sampler(a.sampler, model, x_T.to(device), steps=total, noise_scale=a.noise_scale, noise=noise, context=c,
                   side_by_side=both)
    rows = [n - 1, 2 * n - 1] if both else [n - 1]
    start = x_T.repeat(2, 1, 1, 1) if both else x_T
    steps = list(walk)  # walked once, read twice: the journey's columns and the pixel's every step
    labels, xt, x0 = collect(steps, start, rows, total)
    arms = ["with noise", "z = 0"] if both else [a.sampler.upper()]
    named = [(f"{view} ({arm})", images[r]) for r, arm in enumerate(arms) for view, images in (("x_t", xt), ("predicted x0", x0))]
    figure = picture(labels, named, scale=a.scale)
    if a.pixel is not None:
        if a.sampler != "ddpm":
            raise SystemExit("--pixel follows a DDPM walk (its step adds s3·z); use --sampler ddpm")
        x, y = a.pixel
        schedule = Schedule().respace(total)
        traces = [(arm, trace(steps, start, schedule, row, y, x, a.noise_scale if k == 0 else 0.0))
                  for k, (arm, row) in enumerate(zip(arms, rows))]
        figure = stack(figure, plot(traces, size=(figure.shape[1], 200)))
        for arm, channels in traces:  # the first step's arithmetic, for the slide's notes
            print(f"{arm}, pixel ({x}, {y}), red, t = {channels[0][0].t}: {step_text(channels[0][0])}")
    write_png(figure, out)
    print(f"wrote {out}: sprite {a.sprite} of seed {a.seed}")


def cmd_evaluate(a: argparse.Namespace) -> None:
    from .evaluate import evaluate
    from .featnet import load_or_train_feature_net

    weights = Path(a.weights or DEFAULT_WEIGHTS)
    fast, model, said = denoiser(a, weights, openvino=not a.torch)
    print(said)
    data = load_sprites(a.data)
    net = load_or_train_feature_net(Path(a.feature_net), data)
    results = evaluate(model, data, net, n=a.n, seed=a.seed, guidance=a.guidance, device=fast.device)
    results["weights"] = str(weights)
    results["engine"] = said
    print(json.dumps(results, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")


def cmd_bench(a: argparse.Namespace, demo_case: Callable[[Engine, Path, int], Callable[[int], object]] | None = None) -> None:
    """`bench`; `python -m demo.bench` calls it with the demo's case (demo_case(engine, weights, steps) → seed → a run)."""
    from .bench import default_cases, run_bench, save

    if a.ddim_steps > a.T:
        raise SystemExit(f"--ddim-steps ({a.ddim_steps}) cannot exceed --T ({a.T})")
    if a.threads:
        torch.set_num_threads(a.threads)
    weights = a.weights or DEFAULT_WEIGHTS
    model = load_model(weights, device="cpu")
    fast = fast_model(weights, "cpu")
    demo = demo_case(fast, Path(weights), a.T) if demo_case else None
    result = run_bench(model, default_cases(a.ddim_steps), Schedule(T=a.T), repeats=a.repeats, fast=fast, demo=demo)
    result["weights"] = str(weights)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    save(result, a.json)
    print(f"wrote {a.json}")


def cmd_export(a: argparse.Namespace) -> None:
    from .web_model import export_onnx

    weights = a.weights or DEFAULT_WEIGHTS
    model = load_model(weights, device="cpu")
    print(f"wrote {export_ir(model, weights)}")
    print(f"wrote {export_onnx(model, weights)}")


def cmd_info(a: argparse.Namespace) -> None:
    print(json.dumps(read_meta(a.weights or DEFAULT_WEIGHTS), indent=2))


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="python -m ddpm", description="Train, sample and evaluate the sprite DDPM.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on sprites")
    t.add_argument("--data", default=str(DEFAULT_DATA), help="sheet folder, single-sprite folder, or the course's sprites .npy")
    t.add_argument("--out", required=True, help="weights file to write (.safetensors); resumable state goes beside it")
    t.add_argument("--steps", type=_positive(int), default=20_000)
    t.add_argument("--batch-size", type=_positive(int), default=128)
    t.add_argument("--lr", type=_positive(float), default=1e-3)
    t.add_argument("--warmup", type=int, default=500)
    t.add_argument("--lr-schedule", choices=("cosine", "rsqrt"), default="cosine",
                   help="cosine: to 0 at --steps; rsqrt: lr/√max(step/--lr-ref, 1), open-ended (a run over several sittings)")
    t.add_argument("--lr-ref", type=_positive(int), default=5000, help="where rsqrt starts to decay")
    t.add_argument("--ema", type=float, default=0.999)
    t.add_argument("--ema-sigma-rels", type=float, nargs="*", default=[],
                   help="power-function EMAs to keep beside (EDM2's σ_rel, e.g. 0.05 0.1), each in NAME.emaS.safetensors")
    t.add_argument("--p-uncond", type=float, default=0.1, help="context dropout rate")
    t.add_argument("--no-flip", action="store_true", help="no horizontal-flip augmentation")
    t.add_argument("--min-snr-gamma", type=float, default=0.0, help="min-SNR-γ loss weighting (0: off; 5 is the paper's)")
    t.add_argument("--t-band", type=float, default=0.0,
                   help="share of sprites trained at t where σ_t = √((1−ᾱ)/ᾱ) is 0.1 to 1, where colours are decided (0: uniform t)")
    t.add_argument("--input-perturbation", type=float, default=0.0,
                   help="DDPM-IP's γ (Ning et al. 2023; 0.1 is the paper's): x_t made with ε + γ·ξ, target ε (0: off)")
    t.add_argument("--balance", action="store_true", help="draw every class equally often")
    t.add_argument("--uncond-data-mix", action="store_true",
                   help="the sprites trained without a class (--p-uncond) drawn in the tiles' own mix, not balanced")
    t.add_argument("--n-feat", type=_positive(int), default=UNetConfig.n_feat, help="channels at 16×16, a multiple of 8")
    t.add_argument("--no-attention", action="store_true")
    t.add_argument("--self-cond", action="store_true",
                   help="self-conditioning (Chen et al. 2022): the net also sees its previous x̂0; with --init, from a plain net")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    t.add_argument("--ckpt-every", type=_positive(int), default=1000)
    t.add_argument("--grid-every", type=int, default=2000, help="write a sample grid every N steps (0: never)")
    t.add_argument("--resume", action="store_true", help="continue from the state file beside --out")
    t.add_argument("--init", default=None, help="start from these weights (same architecture), with a fresh optimiser")
    _bf16_flag(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw sprites to a PNG grid, a GIF/MP4 of the denoising, or an .npy")
    s.add_argument("--weights", default=None, help=f"default: {DEFAULT_WEIGHTS}")
    s.add_argument("--n", type=_positive(int), default=16)
    s.add_argument("--seed", type=int, default=0)
    _sampler_flags(s)
    s.add_argument("--noise-scale", type=float, default=1.0, help="λ, multiplies s3·z (0 = the no-noise sampler)")
    s.add_argument("--class", dest="class_name", default=MIXED,
                   help=f"{MIXED}: sprite i asks for class i mod 5 (default); {NO_CLASS}: unconditional; "
                        "or one of the model's classes (shipped: hero, creature, food, weapon, item)")
    s.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE,
                   help="classifier-free guidance weight w for a class (0: none)")
    s.add_argument("--scale", type=_positive(int), default=4, help="nearest-neighbour upscale of images")
    s.add_argument("--out", default="samples.png", help="FILE.png | .gif | .mp4 | .npy")
    _autoguidance_flags(s)
    _bf16_flag(s)
    s.set_defaults(func=cmd_sample)

    j = sub.add_parser("journey", help="one sprite's x_t and x̂0 at ten t from T to 1, and its final sprite, as a PNG for slides")
    j.add_argument("--weights", default=None, help=f"default: {DEFAULT_WEIGHTS}")
    j.add_argument("--seed", type=int, default=0)
    j.add_argument("--sprite", type=_positive(int), default=1,
                   help="which sprite of the seed, counted from 1 as on the page (sprite 1 is the top-left one of a grid)")
    _sampler_flags(j)
    j.add_argument("--noise-scale", type=float, default=1.0, help="λ, multiplies s3·z on the noisy arm")
    j.add_argument("--class", dest="class_name", default=NO_CLASS,
                   help=f"{NO_CLASS}: unconditional, as in lesson 1 (default); {MIXED}: sprite i asks for class i mod 5; or a class")
    j.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE, help="classifier-free guidance weight w for a class")
    j.add_argument("--one-arm", action="store_true", help="DDPM without the z = 0 arm beside it (DDIM always has one)")
    j.add_argument("--scale", type=_positive(int), default=6, help="pixels a sprite pixel")
    j.add_argument("--out", default="journey.png", help="FILE.png")
    j.add_argument("--pixel", type=_pixel, default=None, metavar="X,Y",
                   help="also plot that pixel's x_t and x̂0 over every t, both arms (0 … 15 from the top left; DDPM)")
    _autoguidance_flags(j)
    _bf16_flag(j)
    j.set_defaults(func=cmd_journey)

    e = sub.add_parser("evaluate", help="the feature net's calibration; FID, precision, recall, coverage, repeats, class accuracy")
    e.add_argument("--weights", default=None, help=f"default: {DEFAULT_WEIGHTS}")
    e.add_argument("--data", default=str(DEFAULT_DATA))
    e.add_argument("--feature-net", default=str(DEFAULT_FEATURE_NET), help="trained on --data and saved here if absent")
    e.add_argument("--n", type=_positive(int), default=1000)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", default=None, help="also write the results here")
    e.add_argument("--guidance", type=float, nargs="+", default=[0.0, DEFAULT_GUIDANCE],
                   help="classifier-free guidance weights w to measure class accuracy at (0: none)")
    e.add_argument("--torch", action="store_true", help="eager torch, not OpenVINO (the fp32 reference with --fp32)")
    _autoguidance_flags(e)
    _bf16_flag(e)
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("bench", help="time the course's loop against the fast path on this CPU")
    b.add_argument("--weights", default=None, help=f"default: {DEFAULT_WEIGHTS}")
    b.add_argument("--repeats", type=_positive(int), default=3)
    b.add_argument("--T", type=_positive(int), default=500, help="DDPM steps (500: the course's schedule)")
    b.add_argument("--ddim-steps", type=_positive(int), default=25)
    b.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    b.add_argument("--json", default="runs/bench.json", help="where to write the result (default: untracked runs/)")
    b.set_defaults(func=cmd_bench)

    x = sub.add_parser("export", help="write the OpenVINO IR (the server's fast engine) and the ONNX model "
                                         "(the page's own sampler) beside a weights file")
    x.add_argument("--weights", default=None, help=f"default: {DEFAULT_WEIGHTS}")
    x.set_defaults(func=cmd_export)

    i = sub.add_parser("info", help="print a checkpoint's metadata")
    i.add_argument("--weights", default=None)
    i.set_defaults(func=cmd_info)
    return p


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m ddpm`."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
