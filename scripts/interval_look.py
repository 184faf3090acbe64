"""A first look at autoguidance on an interval of t (Kynkäänniemi et al. 2024): the weak net called only where
lo ≤ t ≤ hi, the main net alone elsewhere. Draws both arms (λ = 1 and λ = 0) of n unconditional DDPM-500 samples of
seed 0 for each ω,lo,hi given into runs/interval/, and prints their distinct shares (weights/README.md, "Autoguidance
by default"; score the kept samples with evaluate's `score`, as scripts/weak_sweep.py does).

    python scripts/interval_look.py 500 1.4,1,500 2,150,350 2,1,200
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402

from ddpm.checkpoint import DEFAULT_WEIGHTS, weak_path  # noqa: E402
from ddpm.engine import fast_model  # noqa: E402
from ddpm.evaluate import distinct_share, draw  # noqa: E402


class OnInterval:
    """ε̂_weak + ω·(ε̂ − ε̂_weak) where lo ≤ t ≤ hi (every row of a call shares its t here), else ε̂ alone."""

    def __init__(self, main, weak, omega: float, lo: int, hi: int) -> None:
        self.main, self.weak, self.omega, self.lo, self.hi, self.n_cfeat = main, weak, omega, lo, hi, main.n_cfeat

    def __call__(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        eps = self.main(x, t, c)
        if not self.lo <= int(t.reshape(-1)[0]) <= self.hi:
            return eps
        weak = self.weak(x, t, c)
        return weak + self.omega * (eps - weak)


def main() -> None:
    n = int(sys.argv[1])
    fast = fast_model(DEFAULT_WEIGHTS)
    weak = fast_model(weak_path(DEFAULT_WEIGHTS), fast.device)
    out = Path("runs/interval")
    out.mkdir(parents=True, exist_ok=True)
    for spec in sys.argv[2:]:
        omega, lo, hi = float(spec.split(",")[0]), *map(int, spec.split(",")[1:])
        distinct = {}
        for scale in (1.0, 0.0):
            imgs = draw(OnInterval(fast, weak, omega, lo, hi), "ddpm", n, 0, noise_scale=scale, batch=250)
            np.save(out / f"w{omega:g}_{lo}_{hi}_s{scale:g}_n{n}.npy", imgs)
            distinct[scale] = distinct_share(imgs)
        print(f"ω {omega:g} on t {lo}–{hi}: distinct {distinct[1.0]:.3f} / {distinct[0.0]:.3f}, "
              f"ratio {distinct[0.0] / distinct[1.0]:.3f}", flush=True)


if __name__ == "__main__":
    main()
