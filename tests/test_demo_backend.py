"""The bot says at start-up which llama.cpp backend runs the model and how many layers are on
the GPU; a CPU-only build given --n-gpu-layers says it ignores them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from demo_bot.backend import BackendReport, backend_names, backend_report
from demo_bot.extra_bufts import extra_buffer_types
from demo_bot.llm import default_model_path

CUDA_INFO = "CUDA : ARCHS = 900 | USE_GRAPHS = 1 | CPU : SSE3 = 1 | AVX2 = 1 | "
CPU_INFO = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | REPACK = 1 | "


def test_backend_names_come_from_llama_cpps_system_info() -> None:
    assert backend_names(CUDA_INFO) == ("CUDA", "CPU")
    assert backend_names(CPU_INFO) == ("CPU",)


def test_a_gpu_build_says_how_many_layers_went_to_the_gpu() -> None:
    report = BackendReport(("CUDA", "CPU"), True, -1, 31, 31)
    assert report.describe() == "llama.cpp backend: CUDA, CPU, 31/31 layers on the GPU"


@pytest.mark.slow
def test_this_cpu_only_build_says_it_ignores_n_gpu_layers() -> None:
    from llama_cpp import Llama

    with extra_buffer_types(False):
        llm = Llama(model_path=str(default_model_path()), n_gpu_layers=99, verbose=False)
    report = backend_report(llm, 99)
    assert (report.gpu_offload, report.offloaded_layers, report.total_layers) == (False, 0, 31)
    assert report.describe() == (
        "llama.cpp backend: CPU (this build has no GPU support): --n-gpu-layers 99 ignored, "
        "0/31 layers on the GPU; rebuild llama-cpp-python with a GPU backend "
        "(see models/README.md)"
    )
    assert backend_report(llm, 0).describe() == "llama.cpp backend: CPU, 0/31 layers on the GPU"


@pytest.mark.slow
def test_the_bot_prints_it_at_start_up() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "demo_bot", "--questions", "0", "--n-gpu-layers", "99"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "session-bot: llama.cpp backend: CPU (this build has no GPU support)" in done.stderr
