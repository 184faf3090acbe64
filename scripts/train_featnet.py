"""Train evaluate's feature net (ddpm/featnet.py), write it, and print its calibration (issue 32; weights/README.md).

    python scripts/train_featnet.py [--out weights/featnet.safetensors] [--steps 3000]
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from ddpm import load_sprites  # noqa: E402
from ddpm.cli import DEFAULT_DATA, DEFAULT_FEATURE_NET  # noqa: E402
from ddpm.evaluate import calibrate  # noqa: E402
from ddpm.featnet import train_feature_net  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--out", default=str(DEFAULT_FEATURE_NET))
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    data = load_sprites(a.data)
    t0 = time.perf_counter()
    net = train_feature_net(data, steps=a.steps, seed=a.seed)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, a.out)
    print(f"wrote {a.out} in {time.perf_counter() - t0:.0f} s")
    print(json.dumps(calibrate(net, data), indent=2))


if __name__ == "__main__":
    main()
