"""Where and in which precision torch runs: the device, the bf16 choice and its autocast."""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch


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
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else contextlib.nullcontext()
