"""The seed's noise (ddpm/noise.py): its hash, its ln and sin/cos, its distribution, and the page's JavaScript twin."""
import json
import math
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from ddpm.noise import MAX_SEED, SpriteNoise, _cos_sin_turn, _log_unit, hash32, normal, sprite_keys

NOISE_JS = Path(__file__).resolve().parents[1] / "demo" / "web" / "noise.js"


def lowbias32(x: int) -> int:
    """The hash in plain Python integers, as Wellons writes it in C."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_hash_matches_plain_integers_and_is_a_bijection_on_a_block():
    xs = np.array([0, 1, 2, 12345, 2**31, 2**32 - 1], np.uint32)
    assert hash32(xs).tolist() == [lowbias32(int(x)) for x in xs]
    block = hash32(np.arange(2**16, dtype=np.uint32))
    assert len(np.unique(block)) == 2**16


def test_log_and_turn_match_libm():
    rng = np.random.default_rng(0)
    bits = np.concatenate([rng.integers(0, 2**32, 100_000, dtype=np.uint64), [0, 1, 2**30, 2**31, 2**32 - 1]]).astype(np.uint32)
    u = (bits.astype(np.float64) + 0.5) / 2**32
    np.testing.assert_allclose(_log_unit(bits), np.log(u), rtol=1e-14, atol=0)
    cos, sin = _cos_sin_turn(bits)
    turn = 2 * math.pi * bits.astype(np.float64) / 2**32
    np.testing.assert_allclose(cos, np.cos(turn), atol=2e-15)
    np.testing.assert_allclose(sin, np.sin(turn), atol=2e-15)


def test_values_are_standard_normal_and_streams_uncorrelated():
    z = normal(sprite_keys(3, np.arange(64)), draw=5).astype(np.float64)  # 49,152 values
    flat = z.ravel()
    assert abs(flat.mean()) < 0.02 and abs(flat.std() - 1) < 0.02
    assert abs(np.mean(np.abs(flat) < 1) - math.erf(1 / math.sqrt(2))) < 0.01  # 68.3 % within 1σ
    assert abs(np.mean(flat**4) - 3) < 0.15
    corr = np.corrcoef(z)[np.triu_indices(64, 1)]  # sprite against sprite
    assert np.abs(corr).max() < 0.2  # 768 values each: |r| of independent rows is ~0.04
    step = normal(sprite_keys(3, np.arange(64)), draw=6).astype(np.float64)
    assert abs(np.corrcoef(flat, step.ravel())[0, 1]) < 0.02


def test_a_sprite_is_the_same_in_any_batch_and_none_draws_zeros():
    alone, batch = SpriteNoise(9, [4]), SpriteNoise(9, [None, 4, 5])
    for _ in range(3):
        a, b = alone.draw(), batch.draw()
        assert np.array_equal(a[0], b[1])
        assert not b[0].any() and not np.array_equal(b[1], b[2])
    later = SpriteNoise(9, [4, 5], draws=3)[1:]  # a slice keeps its place in the streams
    assert np.array_equal(later.draw()[0], batch.draw()[2])


def run_js(body: str) -> str:
    """Run `body` (noise.js imported as `noise`; it calls print) in Node, or in Chromium where Node is missing."""
    if shutil.which("node"):
        script = f"const noise = await import({json.dumps(NOISE_JS.as_uri())}); const print = console.log;\n{body}"
        return subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True).stdout
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("neither node nor chromium is installed")
    url = "data:text/javascript," + quote(NOISE_JS.read_text())
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless=new", "--no-sandbox"])
        printed = browser.new_page().evaluate(
            f"async () => {{ const lines = []; const print = (s) => lines.push(s); const noise = await import({json.dumps(url)});\n"
            f"{body}\nreturn lines.join('\\n'); }}")
        browser.close()
        return printed


def test_javascript_draws_the_same_bits():
    seeds, sprites, draws = [0, 1, 12345, MAX_SEED], [0, 1, 63, None], 3  # MAX_SEED: the largest the page takes
    body = f"""const out = [];
for (const seed of {json.dumps(seeds)}) {{
  const stream = new noise.SpriteNoise(seed, {json.dumps(sprites)});
  for (let d = 0; d < {draws}; d++) out.push(Array.from(stream.draw()));
}}
print(JSON.stringify(out));"""
    js = np.array(json.loads(run_js(body)), np.float32)
    ours = [SpriteNoise(seed, sprites) for seed in seeds]
    py = np.stack([noise.draw().numpy().ravel() for noise in ours for _ in range(draws)])
    assert js.shape == py.shape
    assert np.array_equal(js.view(np.uint32), py.view(np.uint32))  # bit for bit, not merely close


def test_one_seed_range_for_the_library_and_the_page():
    from demo.request import parse_request
    from demo.settings import RequestError

    assert MAX_SEED == 2**31 - 1  # signed 32-bit: the page's slider and JavaScript's integers
    sprite_keys(MAX_SEED, np.array([0]))
    parse_request(seed=MAX_SEED)
    with pytest.raises(ValueError, match="seed"):
        sprite_keys(MAX_SEED + 1, np.array([0]))
    with pytest.raises(RequestError):
        parse_request(seed=MAX_SEED + 1)
