"""The one place that chooses where, in which precision and on which engine the model runs.

The fast path for sampling on a CPU: bf16 autocast where the CPU has it, and a torch.compile'd
copy of the U-Net built in a background thread, so that creating it (and starting a server) does
not wait; until the compile is done, calls run the plain model.
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import torch
from torch import Tensor, nn

from .unet import ContextUnet


def pick_device() -> torch.device:
    """CUDA when it is there, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True if the CPU multiplies bf16 natively (AMX-BF16 or AVX-512-BF16)."""
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def use_bf16(device: torch.device, override: bool | None = None, cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether to run in bf16 on `device`: `override` if given, else where it pays (CUDA with bf16, a bf16-capable CPU)."""
    if override is not None:
        return override
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16(cpuinfo)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device` when enabled, else a no-op context."""
    # Not torch.autocast(enabled=False): its exit still clears the global autocast cache, which
    # deadlocks against a torch.compile tracing in another thread (torch 2.13; see ddpm/fast.py).
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


class FastModel:
    """Wraps a ContextUnet and is called like it, `fast(x, t, c=None)`, computed faster."""

    def __init__(self, model: ContextUnet, *, bf16: bool | None = None, compile: bool | None = None) -> None:
        self.model = model.eval()
        self.config = model.config
        self.device = next(model.parameters()).device
        self.bf16 = use_bf16(self.device, bf16)
        self.compiled: nn.Module | None = None
        self.ready = threading.Event()
        # Compiling pays on the CPU, where the U-Net's small ops are overhead-bound.
        if compile if compile is not None else self.device.type == "cpu":
            threading.Thread(target=self._compile, name="ddpm-compile", daemon=True).start()
        else:
            self.ready.set()

    def _compile(self) -> None:
        """Compile once for every batch size (dynamic shapes), then switch over."""
        import torch._inductor.config as inductor

        inductor.freezing = True  # fold the weights into the graph as constants
        compiled = torch.compile(self.model, dynamic=True)
        try:
            with torch.inference_mode():  # as in the samplers, so the graph's guards match theirs
                # Two batch sizes: the second makes dynamo generalise the batch dimension.
                for batch in (3, 5):
                    x = torch.zeros(batch, *self._image_shape(), device=self.device)
                    t = torch.ones(batch, dtype=torch.long, device=self.device)
                    self._call(compiled, x, t, None, self.bf16)
        except Exception as e:  # a failed compile leaves the eager model serving
            print(f"ddpm: compiling the fast path failed, staying on eager: {type(e).__name__}: {e}")
        else:
            self.compiled = compiled
        self.ready.set()

    def _image_shape(self) -> tuple[int, int, int]:
        return (self.config.in_channels, self.config.height, self.config.height)

    def _call(self, net: nn.Module, x: Tensor, t: Tensor, c: Tensor | None, bf16: bool) -> Tensor:
        # One form of input for every caller, so the compiled graph's guards always hold:
        # inference tensors, t as a (B,) tensor, the zero context where None was given, and
        # a batch of at least 2 (dynamo specialises a batch of 1 and would recompile).
        n = x.shape[0]
        with torch.inference_mode():
            t = t.reshape(-1).expand(n).clone()
            c = x.new_zeros(n, self.config.n_cfeat) if c is None else c.to(x.dtype).clone()
            x = x.clone()
            if n == 1:
                x, t, c = (v.repeat(2, *([1] * (v.ndim - 1))) for v in (x, t, c))
            with autocast(self.device, bf16):
                return net(x, t, c).float()[:n]

    def __call__(self, x: Tensor, t: Tensor, c: Tensor | None = None) -> Tensor:
        """ε̂(x_t, t, c): from the compiled copy once it is warm, else from the eager model."""
        if self.compiled is not None:
            return self._call(self.compiled, x, t, c, self.bf16)
        # While the compile runs, the eager model serves in fp32: eager bf16 autocast beside
        # dynamo's tracing in another thread deadlocks (torch 2.13: autocast's exit against
        # fake-tensor propagation); eager fp32 beside it does not (tests/test_engine.py).
        return self._call(self.model, x, t, c, self.bf16 and self.ready.is_set())

    @property
    def path(self) -> str:
        """Which path serves calls now, for status lines."""
        precision = "bf16" if self.bf16 and self.ready.is_set() else "fp32"
        return f"compiled {precision}" if self.compiled is not None else f"eager {precision}"
