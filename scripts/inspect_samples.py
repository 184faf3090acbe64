"""What kept samples (the .npy files of scripts/weak_sweep.py) are made of: the class mix, coverage of each class's
tiles, precision / recall / coverage against all tiles and against evaluate's reference half, and how far the
off-palette pixels are from the palette (weights/README.md, issue 32's class-mix and off-palette findings).

    python scripts/inspect_samples.py runs/trial/control_int/*.npy runs/trial/uncondmix_int/*w3_t100-300_noise1*.npy
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from ddpm import load_sprites  # noqa: E402
from ddpm.cli import DEFAULT_DATA, DEFAULT_FEATURE_NET  # noqa: E402
from ddpm.evaluate import (OFF_PALETTE_LEVELS, class_mix, covered, features, manifold, palette_distance,  # noqa: E402
                           reference)
from ddpm.featnet import load_or_train_feature_net  # noqa: E402

LEVELS = (OFF_PALETTE_LEVELS, 36, 48, 72)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("samples", nargs="+", help="uint8 (N, 16, 16, 3) .npy files")
    a = p.parse_args()
    data = load_sprites(DEFAULT_DATA)
    net = load_or_train_feature_net(DEFAULT_FEATURE_NET, data)
    ref = reference(net, data)
    half_labels = data.labels[ref.tiles]
    print(json.dumps({"tiles": {name: round(float((data.labels == i).mean()), 3) for i, name in enumerate(data.classes)}}))
    for path in a.samples:
        imgs = np.load(path)
        fake = features(net, imgs)
        in_ball = covered(ref.half, fake)
        distance = palette_distance(imgs, ref.colours)
        off = distance[distance > OFF_PALETTE_LEVELS]
        line = {
            "samples": path,
            "class_mix": {k: round(v, 3) for k, v in class_mix(net, imgs, data.classes).items()},
            "coverage_by_class": {name: round(float(in_ball[half_labels == i].mean()), 3) for i, name in enumerate(data.classes)},
            "against_all_tiles": {k: round(v, 3) for k, v in manifold(ref.every, fake).items()},
            "against_the_half": {k: round(v, 3) for k, v in manifold(ref.half, fake).items()},
            "off_palette_beyond": {lv: round(float((distance > lv).mean()), 4) for lv in LEVELS},
            "off_pixels_median_levels": float(np.median(off)) if len(off) else None,
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
