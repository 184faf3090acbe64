"""Inside one step (issue 35): the chosen sprite walked again alone, both arms, every step kept, for one pixel's
arithmetic at the scrubbed t (ddpm/pixel.py), and where on the stage a click landed; and beside the forward process,
the network's guess of a noised sprite's noise against the true one, with its training loss (ddpm/guess.py)."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
from PIL import Image, ImageDraw

from ddpm import Denoiser, Schedule, guide, sampler, seeded_noise
from ddpm.data import to_tensor, to_uint8
from ddpm.guess import guess, loss_plot
from ddpm.images import stack, upscale
from ddpm.noise import SpriteNoise
from ddpm.pixel import PixelStep, plot, step_text, trace, x0_text
from ddpm.sampler import Step

from .frames import Frame
from .i18n import line
from .request import Request

KEPT_WALKS = 8  # sprites walked again (and guesses), kept for scrubbing: 2 rows × 500 steps of floats each, about 6 MB
_kept: OrderedDict[tuple, object] = OrderedDict()


def _keep(key: tuple, make):
    """`make()`, kept by `key` with the last KEPT_WALKS others, so that scrubbing and other pixels cost nothing."""
    if key not in _kept:
        _kept[key] = make()
        while len(_kept) > KEPT_WALKS:
            _kept.popitem(last=False)
    _kept.move_to_end(key)
    return _kept[key]


def clicked(x: int, y: int, width: int, n: int, sprite: int | None) -> tuple[int, int, int] | None:
    """The (sprite index, pixel x, pixel y) under image pixel (x, y) of a stage picture `width` wide (demo/export.render:
    one sprite alone, or n in a grid of ceil(√n) columns with 1 px gaps); None on a gap or outside."""
    if sprite is not None:
        return (sprite, x, y) if 0 <= x < 16 and 0 <= y < 16 and width == 16 else None
    ncol = math.ceil(math.sqrt(n))
    col, px = divmod(x - 1, 17)
    row, py = divmod(y - 1, 17)
    index = row * ncol + col
    if x < 1 or y < 1 or px == 16 or py == 16 or col >= ncol or index >= n:
        return None
    return index, px, py


def walk_alone(denoiser: Denoiser, req: Request, sprite: int) -> tuple[torch.Tensor, list[Step]]:
    """Sprite `sprite` of the DDPM run `req` walked again alone, both arms (2 rows), every step kept: (x_T of its rows,
    the steps). Sprite i of a seed draws the same noise alone as in a batch (ddpm/noise.py), so this is the run's own
    sprite."""
    def walk() -> tuple[torch.Tensor, list[Step]]:
        noise = SpriteNoise(req.seed, [sprite])
        x_T = noise.draw()
        context = req.context()
        c = None if context is None else context[sprite:sprite + 1]
        steps = list(sampler("ddpm", guide(denoiser, req.guidance, c), x_T, steps=req.steps, noise_scale=req.noise_scale,
                             noise=noise, context=c, side_by_side=req.side_by_side))
        return (x_T.repeat(2, 1, 1, 1) if req.side_by_side else x_T), steps

    return _keep(("walk", id(denoiser), req, sprite), walk)


def arms_of(req: Request, walked, x: int, y: int) -> list[tuple[str, list[list[PixelStep]]]]:
    """Each arm's name key and its three channels' PixelSteps at pixel (x, y)."""
    start, steps = walked
    schedule = Schedule().respace(req.steps)
    arms = [("with_noise", 0, req.noise_scale), ("without_noise", 1, 0.0)][:2 if req.side_by_side else 1]
    return [(name, trace(steps, start, schedule, row, y, x, lam)) for name, row, lam in arms]


# Mean |difference| of the final sprite, in 1/255, under which the sprite walked alone is the run's: rounding and the
# engine's precision (a browser run in fp32 against the server's bf16) stay far under it, another seed or setting far over.
SAME_SPRITE = 8


def matches(walked, frame: Frame, sprite: int) -> bool:
    """Whether the sprite walked alone ends as the run's own final sprite (else the settings changed since the run)."""
    _, steps = walked
    alone = to_uint8(steps[-1].x[:1])[0].astype(int)
    return sprite < len(frame.arms[0][0]) and float(np.abs(alone - frame.arms[0][0][sprite].astype(int)).mean()) <= SAME_SPRITE


def panel(lang: str, arms: list[tuple[str, list[list[PixelStep]]]], sprite: int, x: int, y: int, t: int) -> str:
    """The panel's Markdown: for each arm and channel, the step from t with its numbers, and x̂0 (the last step's at
    t = 0, where no step starts)."""
    out = []
    for name, channels in arms:
        if out:
            out.append("")  # a paragraph of its own for each arm
        index = next((k for k, p in enumerate(channels[0]) if p.t == t), len(channels[0]) - 1)
        out.append(line(lang, "inside_arm", arm=line(lang, name), sprite=sprite + 1, x=x, y=y, t=channels[0][index].t))
        for colour, steps in zip(("red", "green", "blue"), channels):
            p = steps[index]
            out.append(line(lang, "channel", colour=line(lang, colour), step=step_text(p), x0=x0_text(p)))
    return "\n".join(out)


def picture(arms: list[tuple[str, list[list[PixelStep]]]], t: int) -> np.ndarray:
    """The pixel's x_t and x̂0 over every t, both arms, t marked (ddpm.pixel.plot), labelled in English: PIL's own
    font has no Chinese."""
    return plot([(line("en", name), channels) for name, channels in arms], marked=t)


TILE = 8  # screen pixels a sprite pixel in the guess's picture


def guessed(model: Denoiser, seed: int, n: int, sprite: int, clean: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The forward process's sprite `sprite` (uint8 `clean`, noised with the seed's x_T as its ε: demo/forward.py) at
    every t = 1 … T: (ε, x_t, ε̂, loss), the network alone (ddpm/guess.py)."""
    def make() -> tuple[torch.Tensor, ...]:
        eps = seeded_noise(seed, n)[0][sprite:sprite + 1]
        return (eps, *guess(model, to_tensor(clean[None]), eps, list(range(1, Schedule.T + 1))))

    return _keep(("guess", id(model), seed, n, sprite, clean.tobytes()), make)


def same_noise(eps: torch.Tensor, shown: np.ndarray) -> bool:
    """Whether ε is the noise the forward process's view shows (halved, uint8): else the seed changed since."""
    return np.array_equal(to_uint8(eps * 0.5)[0], shown)


def guess_picture(eps: torch.Tensor, x_t: torch.Tensor, eps_hat: torch.Tensor, loss: torch.Tensor, t: int) -> np.ndarray:
    """x_t, the true ε, the network's ε̂ and their difference at t (noise shown halved, as the views show it), over the
    loss at every t with t marked: a uint8 RGB picture, labelled in English (PIL's own font has no Chinese)."""
    k = max(1, min(t, Schedule.T)) - 1
    tiles = [("x_t", to_uint8(x_t[k:k + 1])[0]), ("eps (true)", to_uint8(eps * 0.5)[0]),
             ("eps_hat (network)", to_uint8(eps_hat[k:k + 1] * 0.5)[0]), ("eps - eps_hat", to_uint8((eps - eps_hat[k:k + 1]) * 0.5)[0])]
    side, gap, label = 16 * TILE, 12, 16
    row = Image.new("RGB", (len(tiles) * (side + gap) + gap, side + label + gap), "white")
    draw = ImageDraw.Draw(row)
    for j, (name, image) in enumerate(tiles):
        x = gap + j * (side + gap)
        draw.text((x, 2), name, fill="black")
        row.paste(Image.fromarray(upscale(image, TILE)), (x, label))
    return stack(np.asarray(row), loss_plot(list(range(1, Schedule.T + 1)), loss.tolist(), marked=t, size=(row.width, 160)))
