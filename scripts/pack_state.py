"""Shrink a training run's resumable state (NAME.train.pt) for committing under resume/ (issue 23: under 20 MB).

Drops Adam's moments (they warm up again within a few hundred steps; `python -m ddpm train --resume` says so) and
keeps everything else: the weights, the EMAs, the schedule's step, the random state and the losses.

    python scripts/pack_state.py runs/trials23/n24.train.pt resume/sprites-long.train.pt
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("state", help="a NAME.train.pt written by python -m ddpm train")
    p.add_argument("out", help="where to write the packed state (NAME.train.pt beside the run's --out)")
    a = p.parse_args()
    state = torch.load(a.state, map_location="cpu", weights_only=True)
    state.pop("opt", None)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, a.out)
    print(f"wrote {a.out}: step {state['step']}, {Path(a.out).stat().st_size / 2**20:.1f} MB (Adam's moments dropped)")


if __name__ == "__main__":
    main()
