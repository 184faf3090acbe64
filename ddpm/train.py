"""Training: the course's ε-prediction loss, with EMAs, context dropout, warm-up, and cosine or open-ended decay."""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .checkpoint import load_model, read_meta, save_model
from .data import Sprites, random_hflip, to_tensor, to_uint8
from .ema import PowerEMA
from .device import autocast, pick_device, use_bf16
from .images import make_grid, upscale, write_png
from .noise import seeded_noise
from .sampler import q_sample, sample, sampler
from .schedule import Schedule
from .selfcond import training_estimate, widen
from .unet import ContextUnet, UNetConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; stored in its checkpoints."""

    steps: int = 20_000
    batch_size: int = 128
    lr: float = 1e-3
    warmup: int = 500  # linear learning-rate warm-up steps, then the decay below
    lr_schedule: str = "cosine"  # "cosine": to 0 at `steps`; "rsqrt": lr/√max(step/lr_ref, 1), which needs no known end
    lr_ref: int = 5000  # where "rsqrt" starts to decay (Karras et al. 2024, eq. 16's t_ref)
    ema: float = 0.999  # decay of the exponential moving average of the weights (written to the output file)
    ema_sigma_rels: tuple[float, ...] = ()  # power-function EMAs kept beside it (ddpm/ema.py), each in its own file
    p_uncond: float = 0.1  # context dropout: share of sprites trained without their class
    min_snr_gamma: float = 0.0  # > 0: weight each sprite's loss by min(SNR_t, γ)/SNR_t (Hang et al. 2023); 0: plain MSE
    t_band: float = 0.0  # share of sprites whose t is drawn from COLOUR_BAND rather than from all of 1 … T (0: uniform t)
    input_perturbation: float = 0.0  # γ of DDPM-IP (Ning et al. 2023): x_t is made with ε + γ·ξ, the target stays ε; 0: off
    balance: bool = False  # draw every class equally often (creatures are half the tiles)
    uncond_data_mix: bool = False  # the sprites trained without a class drawn uniformly over the tiles, not balanced
    flip: bool = True  # random horizontal flips
    seed: int = 0
    bf16: bool | None = None  # None: on where the device supports it (see device.use_bf16)
    ckpt_every: int = 1000
    grid_every: int = 2000
    unet: UNetConfig = field(default_factory=UNetConfig)


def lr_factor(step: int, warmup: int, total: int, schedule: str = "cosine", ref: int = 5000) -> float:
    """Linear warm-up to 1 over `warmup` steps, then cosine decay to 0 at `total`, or 1/√max(step/ref, 1) for "rsqrt"."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "rsqrt":
        return 1 / math.sqrt(max(step / ref, 1.0))
    if schedule != "cosine":
        raise ValueError(f"lr_schedule must be 'cosine' or 'rsqrt', not {schedule!r}")
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def ema_path(out: Path, sigma_rel: float) -> Path:
    """Where the power EMA of width σ_rel is written beside `out`: NAME.ema0.100.safetensors."""
    return out.with_name(f"{out.stem}.ema{sigma_rel:.3f}{out.suffix}")


def context_batch(labels: torch.Tensor, n_classes: int, p_uncond: float, generator: torch.Generator) -> torch.Tensor:
    """One-hot class contexts, zeroed for unlabelled sprites and for a random share p_uncond."""
    onehot = F.one_hot(labels.clamp(min=0), n_classes).float() * (labels >= 0)[:, None].float()
    keep = torch.rand(len(labels), generator=generator) >= p_uncond
    return onehot * keep[:, None].float()


def redraw_unconditional(idx: torch.Tensor, contexts: torch.Tensor, n_tiles: int,
                         generator: torch.Generator) -> torch.Tensor:
    """`idx` with the rows trained without a class (all-zero context) drawn again uniformly over the tiles: ε̂(∅)
    then learns the tiles' own mix p(x), while balanced draws still teach every class equally (issue 32: a balanced
    ε̂(∅) drew three times the heroes the tiles hold, and half the creatures)."""
    unconditional = contexts.sum(1) == 0
    fresh = torch.randint(n_tiles, (len(idx),), generator=generator)
    return torch.where(unconditional, fresh, idx)


def loss_weight(schedule: Schedule, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-γ weights for ε-prediction, min(SNR_t, γ)/SNR_t with SNR_t = ᾱ_t/(1 − ᾱ_t) (Hang et al. 2023, eq. 9)."""
    ab = schedule.ab_t[t]
    snr = ab / (1 - ab)
    return snr.clamp(max=gamma) / snr if gamma > 0 else torch.ones_like(snr)


# σ_t = √((1 − ᾱ_t)/ᾱ_t), the noise-to-signal ratio, from 0.1 to 1: where a pixel's colour is decided (issue 32).
COLOUR_BAND = (0.1, 1.0)


def band_steps(schedule: Schedule, band: tuple[float, float] = COLOUR_BAND) -> torch.Tensor:
    """The steps t whose σ_t = √((1 − ᾱ_t)/ᾱ_t) lies in `band`."""
    t = torch.arange(1, schedule.T + 1)
    ab = schedule.ab_t[t]
    sigma = ((1 - ab) / ab).sqrt()
    return t[(sigma >= band[0]) & (sigma <= band[1])]


def draw_t(T: int, band: torch.Tensor, n: int, band_share: float, generator: torch.Generator) -> torch.Tensor:
    """n steps t: uniform over 1 … T, the course's, or, for a `band_share` of them, uniform over `band`'s steps
    (band_steps, found once per run)."""
    t = torch.randint(1, T + 1, (n,), generator=generator)
    if band_share <= 0:
        return t  # the same draws as before the option existed
    in_band = torch.rand(n, generator=generator) < band_share
    return torch.where(in_band, band[torch.randint(len(band), (n,), generator=generator)], t)


def perturbed(noise: torch.Tensor, gamma: float, generator: torch.Generator) -> torch.Tensor:
    """The noise that makes x_t under DDPM-IP (Ning et al. 2023, eq. 9): ε + γ·ξ, ξ ~ N(0, I) (the target stays ε),
    so that the net trains on inputs as off as a sampler's own errors make them; `noise` itself at γ = 0."""
    if gamma <= 0:
        return noise  # the same draws as before the option existed
    return noise + gamma * torch.randn(noise.shape, generator=generator).to(noise.device)


def draw_weights(labels: np.ndarray, balance: bool) -> torch.Tensor:
    """Probability of drawing each sprite: uniform, or equal in total for each class (unlabelled sprites as one class)."""
    if not balance:
        return torch.full((len(labels),), 1 / len(labels))
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    w = 1 / counts[inverse]
    return torch.from_numpy(w / w.sum())


def _state_path(out: Path) -> Path:
    return out.with_name(out.stem + ".train.pt")


def train(data: Sprites, out: str | Path, cfg: TrainConfig, *, resume: bool = False, init: str | Path | None = None,
          command: str = "", data_name: str = "") -> list[float]:
    """Train on `data`, writing EMA weights to `out` and resumable state beside it; returns the losses.

    `init` starts a fresh run (new optimiser and schedule) from an earlier run's weights.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    device = pick_device()
    bf16 = use_bf16(device, cfg.bf16)
    schedule = Schedule()
    x_all = to_tensor(data.images).to(device)
    y_all = torch.from_numpy(data.labels)
    p_draw = draw_weights(data.labels, cfg.balance)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # parameter initialisation
    model = ContextUnet(cfg.unet).to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    power = [PowerEMA(model, s) for s in cfg.ema_sigma_rels]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.warmup, cfg.steps, cfg.lr_schedule, cfg.lr_ref))
    step, losses, seconds = 0, [], 0.0
    state_path = _state_path(out)
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        for p in power:
            p.model.load_state_dict(state["power"][f"{p.sigma_rel:g}"])  # KeyError: a state made without this σ_rel
        if "opt" in state:
            opt.load_state_dict(state["opt"])
        else:  # committed state drops Adam's moments to stay small; they warm up again in a few hundred steps
            print("no optimiser state: Adam's moments start afresh")
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        step, losses, seconds = state["step"], state["losses"], state["seconds"]
        print(f"resumed {state_path} at step {step}")
    elif resume:
        print(f"no state at {state_path}: starting afresh")
    if init is not None and step == 0:
        start = load_model(init, device=device)
        if cfg.unet.self_cond and not start.config.self_cond:
            start = widen(start)  # the same function as the plain net until its x0 weights learn
        if start.config != cfg.unet:
            raise ValueError(f"--init {init} is a {start.config}, not the {cfg.unet} asked for")
        model.load_state_dict(start.state_dict())
        ema.load_state_dict(start.state_dict())
        for p in power:
            p.model.load_state_dict(start.state_dict())
        print(f"initialised from {init} ({read_meta(init).get('steps', '?')} steps)")

    def meta() -> dict:
        return {
            "data": data_name, "n_sprites": len(data), "classes": list(data.classes), "steps": step,
            "train": {k: v for k, v in asdict(cfg).items() if k != "unet"}, "bf16": bf16,
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            "final_loss": sum(losses[-200:]) / max(1, len(losses[-200:])), "wall_seconds": round(seconds, 1),
            "command": command, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def checkpoint() -> None:
        save_model(out, ema, meta())
        for p in power:
            save_model(ema_path(out, p.sigma_rel), p.model, {**meta(), "ema_sigma_rel": p.sigma_rel})
        tmp = state_path.with_name(state_path.name + ".tmp")
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                    "power": {f"{p.sigma_rel:g}": p.model.state_dict() for p in power},
                    "sched": sched.state_dict(), "gen": gen.get_state(), "step": step, "losses": losses,
                    "seconds": seconds}, tmp)
        tmp.replace(state_path)

    band = band_steps(schedule)  # the steps --t-band draws from
    bar = tqdm(total=cfg.steps, initial=step, desc="train", unit="step", dynamic_ncols=True)
    model.train()
    t_start = time.perf_counter() - seconds
    while step < cfg.steps:
        if cfg.balance:
            idx = torch.multinomial(p_draw, cfg.batch_size, replacement=True, generator=gen)
        else:  # the same draws as before the option existed
            idx = torch.randint(len(x_all), (cfg.batch_size,), generator=gen)
        if cfg.uncond_data_mix:  # the contexts first: the rows they drop are drawn again
            c = context_batch(y_all[idx], len(data.classes), cfg.p_uncond, gen)
            idx = redraw_unconditional(idx, c, len(x_all), gen)
        x0 = x_all[idx.to(device)]
        if cfg.flip:
            x0 = random_hflip(x0, gen)
        if not cfg.uncond_data_mix:  # the same draws as before the option existed
            c = context_batch(y_all[idx], len(data.classes), cfg.p_uncond, gen)
        c = c.to(device)
        t = draw_t(schedule.T, band, cfg.batch_size, cfg.t_band, gen).to(device)
        noise = torch.randn(x0.shape, generator=gen).to(device)
        x_t = q_sample(schedule, x0, t, perturbed(noise, cfg.input_perturbation, gen))
        with autocast(device, bf16):
            if cfg.unet.self_cond:  # Chen et al. 2022, §3.2: half the rows see the net's own x̂0 of this x_t
                pred = model(x_t, t, c, training_estimate(model, schedule, x_t, t, c, gen))
            else:  # the same draws as before the option existed
                pred = model(x_t, t, c)
        per_sprite = (pred.float() - noise).pow(2).mean(dim=(1, 2, 3))  # the course's ε-prediction MSE
        loss = (loss_weight(schedule, t.cpu(), cfg.min_snr_gamma).to(device) * per_sprite).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():  # EMA of the weights (Ho et al. 2020, §4)
            torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - cfg.ema)
        step += 1
        for p in power:
            p.update(model, step)
        losses.append(loss.item())
        seconds = time.perf_counter() - t_start
        bar.update(1)
        if step % 20 == 0 or step == cfg.steps:
            bar.set_postfix(loss=f"{sum(losses[-100:]) / len(losses[-100:]):.4f}", lr=f"{sched.get_last_lr()[0]:.1e}")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            checkpoint()
        if cfg.grid_every and (step % cfg.grid_every == 0 or step == cfg.steps):
            write_png(upscale(make_grid(preview(ema, schedule, device, bf16)), 4), out.with_name(f"{out.stem}.step{step:06d}.png"))
    bar.close()
    return losses


def preview(model: ContextUnet, schedule: Schedule, device: torch.device, bf16: bool, n: int = 64) -> np.ndarray:
    """64 DDIM-25 samples from seed 0 (first half unconditional, then by class) as uint8."""
    classes = model.config.n_cfeat
    c = torch.zeros(n, classes)
    for i in range(n // 2, n):
        c[i, i % classes] = 1
    with autocast(device, bf16):
        x = sample(sampler("ddim", model.eval(), seeded_noise(0, n)[0].to(device), context=c.to(device), schedule=schedule))
    return to_uint8(x)
