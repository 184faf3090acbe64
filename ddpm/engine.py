"""The one place that chooses where, in which precision and on which engine the model runs.

On a CPU the U-Net runs on OpenVINO where it is installed: the model is read from an IR file
beside the weights (`python -m ddpm export` writes it) and compiled in about a second, so the
first run after a start is as fast as the tenth. Elsewhere, or when that fails, eager torch
serves, in bf16 autocast where the CPU multiplies bf16 natively. docs/performance.md, "Engines", has
the numbers behind this choice.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .checkpoint import load_model
from .device import autocast, use_bf16
from .unet import ContextUnet, UNetConfig

IR_KEY = "ddpm_weights_sha256"  # the IR records which weights file it was made from


class TorchEngine:
    """Eager torch, a Denoiser (ddpm/denoiser.py): the reference, and the fallback for every other engine."""

    def __init__(self, model: ContextUnet, *, bf16: bool | None = None) -> None:
        self.model = model.eval()
        self.config = model.config
        self.device = next(model.parameters()).device
        self.bf16 = use_bf16(self.device, bf16)
        self.n_cfeat = model.config.n_cfeat

    def __call__(self, x: Tensor, t: Tensor, c: Tensor, x0: Tensor | None = None) -> Tensor:
        """ε̂(x_t, t, c) in float32 (x0: a self-conditioned net's earlier estimate, ddpm/selfcond.py)."""
        with torch.inference_mode(), autocast(self.device, self.bf16):
            return self.model(x, t, c, x0).float()

    @property
    def name(self) -> str:
        """The engine and precision, for status lines."""
        return f"torch {'bf16' if self.bf16 else 'fp32'}"


def weights_digest(weights: str | Path) -> str:
    """SHA-256 of a weights file, recorded in its IR so a stale IR is never served."""
    return hashlib.sha256(Path(weights).read_bytes()).hexdigest()


def ir_path(weights: str | Path) -> Path:
    """Where the OpenVINO IR of a weights file lives: beside it, `NAME.xml` (and `NAME.bin`)."""
    return Path(weights).with_suffix(".xml")


def export_ir(model: ContextUnet, weights: str | Path, out: str | Path | None = None) -> Path:
    """Write the OpenVINO IR of `model` (loaded from `weights`), with a dynamic batch, in float32 weights."""
    import openvino as ov

    if model.config.self_cond:
        raise ValueError("the IR takes (x, t, c): a self-conditioned net (ddpm/selfcond.py) runs on eager torch only")
    out = Path(out) if out is not None else ir_path(weights)
    model = model.cpu().eval()
    n = 4
    example = (torch.zeros(n, model.config.in_channels, model.config.height, model.config.height),
               torch.ones(n, dtype=torch.long), torch.zeros(n, model.config.n_cfeat))
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        program = torch.export.export(model, example, dynamic_shapes=tuple({0: batch} for _ in example))
    converted = ov.convert_model(program)
    converted.set_rt_info(weights_digest(weights), IR_KEY)
    ov.save_model(converted, str(out), compress_to_fp16=False)  # fp16 weights would change what is computed
    return out


# OpenVINO runs a model compiled for fixed shapes (every input's, `read_fixed`) faster than one compiled for any,
# and chunks of more than CHUNK rows are no cheaper a sprite (docs/performance.md, "Engines"). So a batch is cut
# into chunks of at most CHUNK rows, each padded to a multiple of ROWS: at most CHUNK / ROWS shapes are ever
# compiled, each on first use. There is a chunk per stream (OpenVINO's streams, a thread each) where they fit,
# run side by side, so that a core working alone on its own chunk waits for no other. At most CHUNK / ROWS
# streams, so that the default run fills them all; with more cores, each stream gets several threads.
CHUNK = 32
ROWS = 8


def read_fixed(core, ir: str | Path, rows: int, config: UNetConfig):
    """The IR read by an OpenVINO `core` with every input's shape fixed: `rows` sprites of the net's `config`."""
    model = core.read_model(str(ir))
    # The IR's inputs are (x, t, c); its sprite size and context width come out of the export as dynamic too.
    model.reshape({0: [rows, config.in_channels, config.height, config.height], 1: [rows], 2: [rows, config.n_cfeat]})
    return model


def chunk_rows(n: int, streams: int) -> int:
    """Rows of each chunk of a batch of n: one chunk per stream where they fit in CHUNK, a multiple of ROWS."""
    per_stream = -(-n // streams)
    return min(CHUNK, -(-per_stream // ROWS) * ROWS)


class OpenVINOEngine:
    """The U-Net compiled by OpenVINO from its IR, fixed shapes run as parallel chunks; a Denoiser on the CPU."""

    def __init__(self, ir: str | Path, weights: str | Path, config: UNetConfig, *, bf16: bool | None = None,
                 threads: int | None = None, warm: Sequence[int] = ()) -> None:
        """`warm`: batch sizes to compile for now, so that their first call waits for no compile."""
        import openvino as ov

        self._core = ov.Core()
        self._ir = str(ir)
        model = self._core.read_model(self._ir)
        digest = model.get_rt_info(IR_KEY).astype(str) if model.has_rt_info(IR_KEY) else None
        if digest != weights_digest(weights):
            raise RuntimeError(f"{ir} was not made from {weights}; run `python -m ddpm export --weights {weights}`")
        self.bf16 = use_bf16(torch.device("cpu"), bf16)
        self.config = config
        self.n_cfeat = config.n_cfeat
        self.device = torch.device("cpu")
        threads = threads or torch.get_num_threads()
        self.streams = min(threads, CHUNK // ROWS)
        self._config = {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": self.streams, "INFERENCE_NUM_THREADS": threads,
                        "ENABLE_HYPER_THREADING": False, "ENABLE_CPU_PINNING": False,
                        "INFERENCE_PRECISION_HINT": "bf16" if self.bf16 else "f32"}
        self._compiled: dict[int, object] = {}
        self._lock = threading.Lock()
        self._local = threading.local()  # an infer request is not to be shared between threads
        for n in warm:
            self._request(chunk_rows(n, self.streams), 0)

    def _request(self, rows: int, i: int) -> tuple[object, list[np.ndarray]]:
        """This thread's i-th infer request for a chunk of exactly `rows`, and its inputs' memory; compiles that shape on first use."""
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        if (rows, i) not in requests:
            with self._lock:
                if rows not in self._compiled:
                    fixed = read_fixed(self._core, self._ir, rows, self.config)
                    self._compiled[rows] = self._core.compile_model(fixed, "CPU", self._config)
            request = self._compiled[rows].create_infer_request()
            # numpy views of the request's own input tensors, written in place each call: no call goes through
            # OpenVINO's Python input dispatcher, which held the GIL while the cores waited (docs/performance.md).
            requests[rows, i] = request, [request.get_input_tensor(k).data for k in range(3)]
        return requests[rows, i]

    def __call__(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        """ε̂(x_t, t, c) in float32."""
        n = x.shape[0]
        inputs = (x.detach().float().cpu().numpy(), t.long().cpu().numpy(), c.detach().float().cpu().numpy())
        size = chunk_rows(n, self.streams)
        running = []
        for i, start in enumerate(range(0, n, size)):
            request, memory = self._request(size, i)
            rows = min(size, n - start)
            for a, m in zip(inputs, memory):
                m[:rows] = a[start:start + rows]
                m[rows:] = a[start + rows - 1]  # padded to the chunk's full shape with its last row: computed, then dropped
            request.start_async()
            running.append((start, rows, request))
        out = np.empty(x.shape, dtype=np.float32)
        for start, rows, request in running:
            request.wait()
            out[start:start + rows] = request.get_output_tensor(0).data[:rows]
        return torch.from_numpy(out).to(x.device)

    @property
    def name(self) -> str:
        """The engine and precision, for status lines."""
        return f"OpenVINO {'bf16' if self.bf16 else 'fp32'}"


Engine = TorchEngine | OpenVINOEngine


def fast_model(weights: str | Path, device: torch.device | str | None = None, *, bf16: bool | None = None,
               openvino: bool = True, warm: Sequence[int] = (), log=print) -> Engine:
    """The model in `weights` on the fastest engine here: OpenVINO from the IR beside them on a CPU, else eager torch.

    `warm`: batch sizes that OpenVINO compiles for at once, so that their first call is as fast as the next.
    Where OpenVINO is missing, the IR absent or stale, or anything fails, eager torch serves and `log` says why; a
    self-conditioned net, which takes its previous x̂0 as a fourth input, always runs on eager torch."""
    model = load_model(weights, device=device)
    if openvino and not model.config.self_cond and next(model.parameters()).device.type == "cpu":
        try:
            return OpenVINOEngine(ir_path(weights), weights, model.config, bf16=bf16, warm=warm)
        except ImportError:
            log("ddpm: OpenVINO is not installed; eager torch serves")
        except Exception as e:  # a missing or stale IR, an unsupported CPU: the model still runs
            log(f"ddpm: OpenVINO failed ({type(e).__name__}: {e}); eager torch serves")
    return TorchEngine(model, bf16=bf16)
