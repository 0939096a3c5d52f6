"""Files that hold telemetry are readable by their owner only: prompts are nobody else's business.

The database (with its -wal and -shm files), the logs and the exports are created 0600, and a
directory localobs makes for them 0700, from the start rather than chmod-ed afterwards, so there
is no moment when another user of the machine could open them. Files that an older localobs (or
a default umask) left readable by others are tightened when localobs next opens them, and it says
so once: the next start finds nothing to change.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_OTHERS = stat.S_IRWXG | stat.S_IRWXO

_log = logging.getLogger("localobs.permissions")


def make_private_dir(path: Path) -> None:
    """Create `path` 0700 if it is missing (its missing parents get the usual mode)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def tighten(paths: Iterable[Path]) -> list[Path]:
    """Take group and other access away from those of `paths` that exist and have it; say which,
    in one line. Returns the paths changed."""
    changed = []
    for path in paths:
        try:
            mode = path.stat().st_mode
            if mode & _OTHERS:
                path.chmod(PRIVATE_DIR if stat.S_ISDIR(mode) else PRIVATE_FILE)
                changed.append(path)
        except OSError:
            continue  # missing, another user's, or on a read-only disk: nothing to change
    if changed:
        _say_tightened(changed)
    return changed


def private_opener(path: str, flags: int) -> int:
    """An `opener` for open(): a new file is created 0600; an existing one looser than that is
    tightened (and it says so) before anything is written to it."""
    descriptor = os.open(path, flags, PRIVATE_FILE)
    if os.fstat(descriptor).st_mode & _OTHERS:
        with contextlib.suppress(OSError):  # another user's file: theirs to change
            os.fchmod(descriptor, PRIVATE_FILE)
            _say_tightened([Path(path)])
    return descriptor


def _say_tightened(paths: list[Path]) -> None:
    _log.warning(
        "localobs: made %s readable by you only (other users of this machine could read the "
        "telemetry in it)",
        ", ".join(str(path) for path in paths),
    )
