"""Which backend llama.cpp runs on, and how many layers went to the GPU, said once at start-up.

A CPU-only build of llama-cpp-python ignores `--n-gpu-layers` without a word; this says so
instead, so a slow demo on a GPU machine is explained before anyone measures it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class BackendReport:
    backends: tuple[str, ...]
    """As llama.cpp's system info names them, GPU first when there is one: ("CUDA", "CPU")."""
    gpu_offload: bool
    requested_layers: int
    offloaded_layers: int
    total_layers: int

    def describe(self) -> str:
        names = ", ".join(self.backends) or "unknown"
        layers = f"{self.offloaded_layers}/{self.total_layers} layers on the GPU"
        if self.requested_layers != 0 and not self.gpu_offload:
            return (
                f"llama.cpp backend: {names} (this build has no GPU support): "
                f"--n-gpu-layers {self.requested_layers} ignored, {layers}; rebuild "
                "llama-cpp-python with a GPU backend (see models/README.md)"
            )
        return f"llama.cpp backend: {names}, {layers}"


def backend_names(system_info: str) -> tuple[str, ...]:
    """`CUDA : ARCHS = 900 | ... | CPU : SSE3 = 1 | ...` -> ("CUDA", "CPU")."""
    return tuple(
        part.split(" : ", 1)[0].strip() for part in system_info.split(" | ") if " : " in part
    )


def backend_report(llm: Any, n_gpu_layers: int) -> BackendReport:
    """For a loaded `llama_cpp.Llama`. llama.cpp counts the output layer as one more layer
    (SmolLM2-135M: 30 blocks, "offloaded 31/31 layers"), and -1 means all of them."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    total = int(llama_cpp.llama_model_n_layer(llm.model)) + 1
    wanted = total if n_gpu_layers < 0 else min(n_gpu_layers, total)
    return BackendReport(backend_names(info), gpu, n_gpu_layers, wanted if gpu else 0, total)
