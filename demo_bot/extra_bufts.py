"""llama.cpp's extra buffer types: off by default, because on some CPUs they crash.

When a model is loaded with `use_extra_bufts` (llama.cpp's default), the CPU backend may repack
the weights into a faster layout. On a CPU with AMX (Intel Sapphire Rapids and newer Xeons) a
llama.cpp built with native flags repacks into its AMX buffer type and then segfaults on the first
decode, in `ggml_backend_amx_mul_mat` (llama.cpp issue #20824). With extra buffer types off the
bundled model runs everywhere, measured at no visible speed cost; `--extra-bufts` turns the fast
path back on for big models on CPUs where it works (see models/README.md).

llama-cpp-python 0.3.36's `Llama` has no argument for it: it fills its `llama_model_params` from
`llama_model_default_params()`, so that function is wrapped while models are loaded. Code that
loads models later (llama.cpp's server loads them on the first request) must stay inside.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FLAG = "--extra-bufts"
FLAG_HELP = (
    "let llama.cpp repack weights into extra CPU buffer types (e.g. AMX); faster for big "
    "models on some CPUs, but crashes on others (off by default, see models/README.md)"
)


@contextmanager
def extra_buffer_types(enabled: bool) -> Iterator[None]:
    """Models loaded inside use llama.cpp's extra buffer types only if `enabled`."""
    import llama_cpp.llama_cpp as native

    original = native.llama_model_default_params
    if enabled:
        yield
        return

    def without_extra_bufts() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_bufts
    try:
        yield
    finally:
        native.llama_model_default_params = original
