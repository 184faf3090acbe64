"""The engines: the bf16 choice per machine, OpenVINO against eager torch, the fallback, the benchmark."""
import json
import sys

import pytest
import torch

from ddpm import ContextUnet, Schedule, UNetConfig, load_model, sample, sample_ddpm, save_model, seeded_noise
from ddpm.bench import Case, forward_flops, reference_loop, run_bench
from ddpm.checkpoint import DEFAULT_WEIGHTS, weak_path
from ddpm.device import cpu_has_bf16, use_bf16
from ddpm.engine import CHUNK, ROWS, OpenVINOEngine, TorchEngine, export_ir, fast_model, ir_path

pytest.importorskip("openvino")
# OpenVINO's kernels sum in another order than torch's: 1e-4 of ε̂'s scale (about 1) is float32 round-off.
ATOL = 1e-4


@pytest.mark.parametrize("flags, expected", [("fpu sse avx2 avx512f", False), ("avx512f avx512_bf16", True), ("amx_bf16 amx_tile", True)])
def test_bf16_chosen_only_where_the_cpu_has_it(tmp_path, flags, expected):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert cpu_has_bf16(info) is expected
    assert use_bf16(torch.device("cpu"), cpuinfo=info) is expected
    assert use_bf16(torch.device("cpu"), not expected, cpuinfo=info) is (not expected)  # an explicit choice wins
    assert cpu_has_bf16(tmp_path / "absent") is False  # no /proc/cpuinfo: stay on fp32


def test_torch_engine_in_bf16_stays_close_to_fp32(tiny_model):
    x, t = torch.randn(4, 3, 16, 16), torch.randint(1, 501, (4,))
    c = torch.zeros(4, 5)
    ref = TorchEngine(tiny_model, bf16=False)(x, t, c)
    # bf16 keeps 8 bits of mantissa: about 1 % of the output's scale.
    assert (TorchEngine(tiny_model, bf16=True)(x, t, c) - ref).abs().max() < 0.05 * ref.abs().max()


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory, tiny_model):
    """The tiny model as a weights file with its IR beside it, as `python -m ddpm export` writes them."""
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_model(path, tiny_model, {"classes": ["a", "b", "c", "d", "e"]})
    export_ir(tiny_model, path)
    return path


def test_openvino_computes_what_eager_torch_computes(tiny_weights, tiny_model):
    ov = fast_model(tiny_weights, "cpu", bf16=False)
    assert isinstance(ov, OpenVINOEngine) and ov.name == "OpenVINO fp32"
    ref = TorchEngine(tiny_model, bf16=False)
    x, t = torch.randn(6, 3, 16, 16), torch.randint(1, 501, (6,))
    c = torch.nn.functional.one_hot(torch.arange(6) % 5, 5).float()
    for ctx in (torch.zeros_like(c), c):
        torch.testing.assert_close(ov(x, t, ctx), ref(x, t, ctx), atol=ATOL, rtol=0)
    torch.testing.assert_close(ov(x[:1], t[:1], c[:1]), ref(x[:1], t[:1], c[:1]), atol=ATOL, rtol=0)  # any batch, one included


def test_openvino_cuts_a_large_batch_into_a_few_fixed_shapes(tiny_weights, tiny_model):
    ov = fast_model(tiny_weights, "cpu", bf16=False)
    ref = TorchEngine(tiny_model, bf16=False)
    n = 2 * CHUNK + ROWS + 3  # two full chunks and a short one, padded
    x, t = torch.randn(n, 3, 16, 16), torch.randint(1, 501, (n,))  # every row its own x and t: no row may take another's
    c = torch.nn.functional.one_hot(torch.arange(n) % 5, 5).float()
    torch.testing.assert_close(ov(x, t, c), ref(x, t, c), atol=ATOL, rtol=0)
    for m in range(1, CHUNK + 1):
        ov(x[:m], t[:m], c[:m])
    assert set(ov._compiled) <= set(range(ROWS, CHUNK + 1, ROWS))  # at most CHUNK / ROWS compiles, whatever the batches
    # Every dimension of every input fixed, not the batch alone: the export leaves the sprite's size and the
    # context's width dynamic, and a partly dynamic model was slower (`python scripts/engines.py`; docs/performance.md, "Engines").
    for rows, compiled in ov._compiled.items():
        assert all(i.get_partial_shape().is_static for i in compiled.inputs)
        assert [tuple(i.get_partial_shape().to_shape()) for i in compiled.inputs] == [(rows, 3, 16, 16), (rows,), (rows, 5)]


def test_a_sprite_does_not_change_with_the_batch_on_openvino(tiny_weights):
    ov = fast_model(tiny_weights, "cpu", bf16=False)
    s = Schedule(T=20)

    def draw(n):
        x_T, noise = seeded_noise(3, n)
        return sample(sample_ddpm(ov, s, x_T, noise=noise))

    torch.testing.assert_close(draw(9)[:2], draw(2), atol=1e-4, rtol=0)


def test_eager_torch_serves_where_openvino_is_missing_or_its_ir_stale(tiny_weights, tmp_path, monkeypatch):
    said = []
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    assert isinstance(fast_model(tiny_weights, "cpu", log=said.append), TorchEngine)
    assert "not installed" in said[-1]
    monkeypatch.undo()
    other = tmp_path / "other.safetensors"  # retrained weights, with the old IR still beside them
    torch.manual_seed(1)
    save_model(other, ContextUnet(UNetConfig(n_feat=16)), {})
    for suffix in (".xml", ".bin"):
        ir_path(other).with_suffix(suffix).write_bytes(ir_path(tiny_weights).with_suffix(suffix).read_bytes())
    with pytest.raises(RuntimeError, match="was not made from"):
        OpenVINOEngine(ir_path(other), other, UNetConfig(n_feat=16))
    assert isinstance(fast_model(other, "cpu", log=said.append), TorchEngine)
    assert "python -m ddpm export" in said[-1]
    ir_path(other).unlink()
    assert isinstance(fast_model(other, "cpu", log=said.append), TorchEngine)  # no IR at all
    assert isinstance(fast_model(tiny_weights, "cpu", openvino=False), TorchEngine)


@pytest.mark.parametrize("weights", [DEFAULT_WEIGHTS, weak_path(DEFAULT_WEIGHTS)], ids=["main", "weak"])
def test_the_shipped_weights_have_their_ir_beside_them(weights):
    if not weights.is_file():
        pytest.skip(f"no {weights.name} ships")
    said = []
    ov = fast_model(weights, "cpu", bf16=False, log=said.append)
    assert isinstance(ov, OpenVINOEngine), said  # else: python -m ddpm export --weights FILE
    ref = TorchEngine(load_model(weights, "cpu"), bf16=False)
    x, t = torch.randn(4, 3, 16, 16), torch.randint(1, 501, (4,))
    c = torch.zeros(4, ref.n_cfeat)
    torch.testing.assert_close(ov(x, t, c), ref(x, t, c), atol=ATOL, rtol=0)


def test_final_sprites_agree_with_the_course_loop(tiny_model):
    """Same x_T, same z: the project's sampler on the engine ends where the course's loop ends."""
    s = Schedule(T=30)
    x_T, noise = seeded_noise(4, 3)
    ref = reference_loop(tiny_model, s, x_T, noise)
    x_T, noise = seeded_noise(4, 3)
    ours = sample(sample_ddpm(TorchEngine(tiny_model, bf16=False), s, x_T, noise=noise))
    assert torch.allclose(ours, ref, atol=1e-4)


@pytest.mark.slow
def test_demo_bench_is_the_librarys_bench_with_the_demos_run(tiny_weights, tmp_path):
    """`python -m demo.bench` takes `python -m ddpm bench`'s options and adds the demo's own run, paired with the notebook."""
    from demo.bench import main

    out = tmp_path / "bench.json"
    main(["--weights", str(tiny_weights), "--T", "3", "--repeats", "1", "--ddim-steps", "3", "--json", str(out)])
    result = json.loads(out.read_text())
    # The fast path is whatever this CPU gets: OpenVINO, in bf16 where the CPU has it.
    assert result["weights"] == str(tiny_weights) and result["fast_path"] == fast_model(tiny_weights, "cpu").name
    assert result["demo_run"]["case"] == "demo run 16+16"
    assert set(result["course_notebook"]["paired_speedup_median"]) == {"fast", "demo"}


@pytest.mark.slow
def test_bench_rows_are_consistent_with_their_timings(tiny_model):
    fast = TorchEngine(tiny_model, bf16=False)
    cases = [Case("ddpm", 2), Case("side", 4, side_by_side=True), Case("ddim", 2, ddim_steps=2)]
    seeds = []
    result = run_bench(tiny_model, cases, Schedule(T=4), repeats=1, fast=fast, demo=seeds.append, log=lambda *_: None)
    notebook = result["course_notebook"]
    assert len(seeds) == len(set(seeds)) == 3  # warm-up, timed, beside the notebook: each a fresh run, never a replay
    demo = result["demo_run"]
    assert demo["vs_fast_side_by_side"] == pytest.approx(demo["median_s"] / result["cases"][1]["fast"]["median_s"])
    assert notebook["steps"] == 4
    assert notebook["fast_side_by_side_speedup"] == pytest.approx(notebook["median_s"] / result["cases"][1]["fast"]["median_s"])
    (pair,) = notebook["paired_s"]  # the notebook run and the fast side by side right after it
    assert notebook["paired_speedup_median"]["fast"] == pytest.approx(pair["notebook"] / pair["fast"])
    assert notebook["paired_speedup_median"]["demo"] == pytest.approx(pair["notebook"] / pair["demo"])
    assert pair["notebook"] == notebook["median_s"]
    assert [row["case"] for row in result["cases"]] == ["ddpm", "side", "ddim"]
    for row, steps in zip(result["cases"], (4, 4, 2)):
        ref, ours = row["reference"], row["fast"]
        assert row["steps"] == steps
        assert row["speedup"] == pytest.approx(ref["median_s"] / ours["median_s"])
        assert ours["steps_per_s"] == pytest.approx(steps / ours["median_s"])
        assert ours["gflops"] == pytest.approx(forward_flops(tiny_model, row["batch"]) * steps / ours["median_s"] / 1e9)
        assert row["final_pixel_diff"]["max"] <= 1  # fp32 both ways: the same sprites


def test_forward_flops_counts_the_convolutions():
    net = torch.nn.Conv2d(3, 8, 3, padding=1)

    class OneConv(torch.nn.Module):
        n_cfeat = 5

        def forward(self, x, t, c):
            return net(x)

    assert forward_flops(OneConv(), 2) == 2 * (2 * 3 * 9 * 8 * 16 * 16)  # 2 FLOPs per multiply-add


def test_the_course_notebooks_net_runs_its_loop():
    from ddpm.course import CourseContextUnet, notebook_sample

    net = CourseContextUnet().eval()
    assert sum(p.numel() for p in net.parameters()) > 1_000_000  # n_feat 64, the course's width
    x_T = seeded_noise(0, 2)[0]
    s = Schedule(T=3)
    torch.manual_seed(0)
    out = notebook_sample(net, s, x_T, noise=False)
    assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()
    # Without noise the loop is the course's update with ε̂ from the net, step by step.
    # The fresh 1×1 shortcut the net builds inside forward draws from the global generator: seed it alike.
    torch.manual_seed(0)
    x = x_T
    with torch.no_grad():
        for i in range(3, 0, -1):
            x = s.s1[i] * (x - net(x, torch.tensor([i / 3])[:, None, None, None]) * s.s2[i])
    torch.testing.assert_close(out, x)
