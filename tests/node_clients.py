"""Real Node clients for the tests (coding-agent CLIs, the Vercel AI SDK), installed on first use.

Each client is a pinned set of npm packages installed once into a cache directory keyed by the
pins (`LOCALOBS_NPM_CACHE`, default ~/.cache/localobs-tests/npm), so a clean clone installs them
from the registry during its first run and later runs reuse them. Without Node or npm the tests
that need a client are skipped with that reason; a failed install fails them (a registry outage
should be seen, not hidden as a skip).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest


def cache_root() -> Path:
    configured = os.environ.get("LOCALOBS_NPM_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "localobs-tests" / "npm"


def require_node() -> str:
    """The path of `node`, or skip the calling test with the reason."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to run the real JS clients (not found on PATH)")
    return node


def install(packages: dict[str, str]) -> Path:
    """A directory whose node_modules holds exactly `packages` ({name: version}), installed once.

    Concurrent test processes share one install (a file lock); a half-finished install is never
    reused (it is only marked done after npm succeeds).
    """
    require_node()
    pins = sorted(packages.items())
    key = hashlib.sha256(repr(pins).encode()).hexdigest()[:16]
    root = cache_root() / key
    done = root / ".installed"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            (root / "package.json").write_text('{"private": true}\n')
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--save-exact",
                    *(f"{name}@{version}" for name, version in pins),
                ],
                cwd=root,
                check=True,
                timeout=900,
            )
            done.write_text(repr(pins))
    return root


def bin_path(root: Path, name: str) -> Path:
    """An installed package's command (node_modules/.bin/NAME)."""
    path = root / "node_modules" / ".bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{name} is not installed in {root}")
    return path
