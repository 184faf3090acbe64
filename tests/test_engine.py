"""The fast path: the bf16 choice per machine, agreement with the plain model, the benchmark."""
import threading

import pytest
import torch

from ddpm import Schedule, sample, sample_ddpm, seeded_noise
from ddpm.bench import Case, forward_flops, reference_loop, run_bench
from ddpm.engine import FastModel, cpu_has_bf16, use_bf16


@pytest.mark.parametrize("flags, expected", [("fpu sse avx2 avx512f", False), ("avx512f avx512_bf16", True), ("amx_bf16 amx_tile", True)])
def test_bf16_chosen_only_where_the_cpu_has_it(tmp_path, flags, expected):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert cpu_has_bf16(info) is expected
    assert use_bf16(torch.device("cpu"), cpuinfo=info) is expected
    assert use_bf16(torch.device("cpu"), not expected, cpuinfo=info) is (not expected)  # an explicit choice wins
    assert cpu_has_bf16(tmp_path / "absent") is False  # no /proc/cpuinfo: stay on fp32


@pytest.mark.slow
def test_fast_fp32_compiled_equals_the_plain_model(tiny_model):
    fast = FastModel(tiny_model, bf16=False, compile=True)
    assert fast.ready.wait(timeout=600) and fast.compiled is not None
    x, t = torch.randn(6, 3, 16, 16), torch.randint(1, 501, (6,))
    c = torch.nn.functional.one_hot(torch.arange(6) % 5, 5).float()
    with torch.inference_mode():
        for ctx in (None, c):
            assert torch.allclose(fast(x, t, ctx), tiny_model(x, t, ctx), atol=1e-4)
        assert torch.allclose(fast(x[:1], t[:1]), tiny_model(x[:1], t[:1]), atol=1e-4)  # a batch of one


@pytest.mark.slow
def test_plain_path_serves_while_compiling(tiny_model):
    """Calls during the background compile return at once, from the eager model in fp32 (eager bf16 there deadlocked)."""
    fast = FastModel(tiny_model, bf16=True, compile=True)
    x, t = torch.randn(4, 3, 16, 16), torch.randint(1, 501, (4,))
    during: list[tuple[str, torch.Tensor]] = []

    def call_until_warm() -> None:
        while not fast.ready.is_set():
            during.append((fast.path, fast(x, t)))

    caller = threading.Thread(target=call_until_warm, daemon=True)
    caller.start()
    caller.join(timeout=600)
    assert not caller.is_alive(), "a call during the compile hung"
    assert fast.compiled is not None and fast.path == "compiled bf16"
    path, eps = during[0]
    assert path == "eager fp32"
    with torch.inference_mode():
        assert torch.allclose(eps, tiny_model(x, t), atol=1e-5)


def test_fast_bf16_stays_close_to_fp32(tiny_model):
    fast = FastModel(tiny_model, bf16=True, compile=False)
    x, t = torch.randn(4, 3, 16, 16), torch.randint(1, 501, (4,))
    with torch.inference_mode():
        ref = tiny_model(x, t)
        # bf16 keeps 8 bits of mantissa: about 1 % of the output's scale.
        assert (fast(x, t) - ref).abs().max() < 0.05 * ref.abs().max()


def test_final_sprites_agree_with_the_course_loop(tiny_model):
    """Same x_T, same z: the project's sampler with the fast model ends where the course's loop ends."""
    s = Schedule(T=30)
    x_T, gens = seeded_noise(4, 3)
    ref = reference_loop(tiny_model, s, x_T, gens)
    x_T, gens = seeded_noise(4, 3)
    ours = sample(sample_ddpm(FastModel(tiny_model, bf16=False, compile=False), s, x_T, generator=gens))
    assert torch.allclose(ours, ref, atol=1e-4)


@pytest.mark.slow
def test_bench_rows_are_consistent_with_their_timings(tiny_model):
    fast = FastModel(tiny_model, bf16=False, compile=False)
    cases = [Case("ddpm", 2), Case("side", 4, side_by_side=True), Case("ddim", 2, ddim_steps=2)]
    result = run_bench(tiny_model, cases, Schedule(T=4), repeats=1, fast=fast, log=lambda *_: None)
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
        def forward(self, x, t):
            return net(x)

    assert forward_flops(OneConv(), 2) == 2 * (2 * 3 * 9 * 8 * 16 * 16)  # 2 FLOPs per multiply-add


@pytest.mark.slow
def test_compiled_path_takes_any_batch_without_recompiling(tiny_model):
    """Batch 1 is padded and the batch dimension is dynamic, so the compiled graph's guards hold for all.

    Not a batch of 16 here: with this tiny net (n_feat 16) dynamo guards the batch below its width;
    the demo's net (n_feat 32) took 1 … 128 without recompiling (checked by hand)."""
    fast = FastModel(tiny_model, bf16=False, compile=True)
    fast.ready.wait()
    assert fast.compiled is not None
    with torch._dynamo.config.patch(error_on_recompile=True):
        for n in (1, 2, 7, 9):
            x, t = torch.randn(n, 3, 16, 16), torch.randint(1, 501, (n,))
            with torch.inference_mode():
                expected = tiny_model(x, t)
            torch.testing.assert_close(fast(x, t), expected, atol=1e-4, rtol=1e-4)
