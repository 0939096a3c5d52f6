"""Import hygiene, checked in fresh interpreters: what each layer loads when imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        ("import localobs.receiver", {"localobs.tui", "textual"}),
        ("import localobs.store", {"localobs.receiver", "localobs.tui", "fastapi", "textual"}),
        ("import localobs.cli", {"llama_cpp", "torch", "sentence_transformers"}),
        ("import localobs.store.writer_process", {"fastapi", "textual", "google.protobuf"}),
    ],
)
def test_a_layer_does_not_load_what_it_must_not_depend_on(
    statement: str, forbidden: set[str]
) -> None:
    assert modules_loaded_by(statement) & forbidden == set()


def test_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint_imports, "--no-cache"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout
