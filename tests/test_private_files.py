"""Files that hold telemetry are readable by their owner only (0600 in 0700), whatever the umask:
the database with its -wal and -shm, localobs.log, demo-bot.log and exports. Files left looser
are tightened once, saying so; directories and files that are not localobs's are left alone."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from localobs.conditions import Conditions
from localobs.demo_runner import DemoBot
from localobs.receiver.bodies import Format
from localobs.receiver.pipeline import decode_body
from localobs.store import Store
from localobs.store.calls import get_call
from localobs.tui.export import export_call
from localobs.tui.terminal_logs import logs_to_file
from tests.conftest import RunningReceiver
from tests.otlp_samples import kv, trace_request

TIGHTENED = "readable by you only"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common default, under which files are created 0644 unless asked otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def localobs(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localobs", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_a_new_database_its_wal_and_shm_and_its_directory_are_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "localobs.db"
    store = Store(db)
    store.start_writer()
    try:
        body = trace_request(2).SerializeToString()
        store.submit(decode_body("traces", body, Format.PROTOBUF)[0]).result()
        reader = sqlite3.connect(db)  # a reader opens the -shm too
        reader.execute("SELECT count(*) FROM spans").fetchone()
        modes = {path.name: mode(path) for path in db.parent.iterdir() if "status" not in path.name}
        reader.close()
    finally:
        store.close()
    assert modes == {"localobs.db": 0o600, "localobs.db-wal": 0o600, "localobs.db-shm": 0o600}
    assert mode(db.parent) == 0o700


def _loose_database(db: Path) -> None:
    """A database as an older localobs left it: 0644 (its -wal and -shm would follow)."""
    Store(db)
    os.chmod(db, 0o644)


def test_a_database_left_readable_is_tightened_once_saying_so(tmp_path: Path) -> None:
    chosen = tmp_path / "project"
    chosen.mkdir(mode=0o755)
    db = chosen / "old.db"
    _loose_database(db)

    first = localobs("info", "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert first.stderr.count(TIGHTENED) == 1
    assert str(db) in first.stderr
    assert mode(db) == 0o600
    assert mode(chosen) == 0o755  # the user's own directory: not localobs's to change

    second = localobs("info", "--db", str(db))
    assert second.returncode == 0 and TIGHTENED not in second.stderr


def test_the_default_data_dir_is_tightened_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    own = data / "localobs"
    own.mkdir(parents=True, mode=0o755)
    _loose_database(own / "localobs.db")
    result = localobs("info", env={"XDG_DATA_HOME": str(data), "LOCALOBS_DB": ""})
    assert result.returncode == 0, result.stderr
    assert f"{own / 'localobs.db'}" in result.stdout
    assert mode(own) == 0o700 and mode(own / "localobs.db") == 0o600
    assert result.stderr.count(TIGHTENED) == 1


def test_a_foreign_sqlite_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    foreign = tmp_path / "theirs.db"
    sqlite3.connect(foreign).execute("CREATE TABLE notes (x)").connection.close()
    os.chmod(foreign, 0o644)
    result = localobs("info", "--db", str(foreign))
    assert result.returncode != 0
    assert mode(foreign) == 0o644 and TIGHTENED not in result.stderr


def test_the_viewer_log_is_private_and_an_old_one_is_tightened(tmp_path: Path) -> None:
    fresh = tmp_path / "localobs.log"
    with logs_to_file(fresh):
        pass
    assert mode(fresh) == 0o600
    old = tmp_path / "old.log"
    old.write_text("from an older version\n")
    os.chmod(old, 0o644)
    with logs_to_file(old):
        logging.getLogger("uvicorn.error").warning("a line for the file")
    assert mode(old) == 0o600
    assert old.read_text().startswith("from an older version\n")


def test_exports_to_a_file_are_private(receiver: RunningReceiver, tmp_path: Path) -> None:
    request = trace_request(1)
    request.resource_spans[0].scope_spans[0].spans[0].attributes.append(
        kv("gen_ai.operation.name", "chat")
    )
    response = httpx.post(
        f"{receiver.url}/v1/traces",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    db = str(receiver.store.path)
    out = tmp_path / "out.jsonl"
    out.write_text("an older export\n")
    os.chmod(out, 0o644)
    assert localobs("export", "--db", db, "--file", str(out)).returncode == 0
    assert mode(out) == 0o600 and out.read_bytes().startswith(b'{"resourceSpans"')

    conn = receiver.store.reader()
    (call_id,) = conn.execute("SELECT call_id FROM llm_calls").fetchone()
    detail = get_call(conn, call_id)
    assert detail is not None
    written = export_call(detail, tmp_path / "calls")
    assert mode(written) == 0o600


def test_the_demo_bot_log_is_private(tmp_path: Path) -> None:
    log = tmp_path / "demo-bot.log"
    bot = DemoBot(
        "http://127.0.0.1:9",
        log,
        Conditions(),
        extra_args=("--no-such-option",),
        restart_delay_s=60,
    )
    bot.start()
    try:
        deadline = time.monotonic() + 30
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mode(log) == 0o600
    finally:
        bot.stop()
