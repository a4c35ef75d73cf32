"""The database file is the wearer's health data: walkdose opens only a private regular file, reads
without writing, and a locked, full or missing database is one line and exit status 2, never a traceback."""
import os
import resource
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading

import pytest

from walkdose import cli, db
from walkdose.errors import UserError


def one_line_exit_2(argv, capsys):
    """walkdose's stderr for argv, checked to be one `walkdose: ...` line with exit status 2."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("walkdose: "), err
    return err


def test_a_symlinked_or_special_database_is_refused_and_never_written(tmp_path, monkeypatch, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("my notes\n")
    target.chmod(0o644)
    link = tmp_path / "walkdose.sqlite"
    link.symlink_to(target)
    monkeypatch.setenv("WALKDOSE_DB", str(link))
    for argv in (["report"], ["plan", "--goal", "60"]):
        assert "a symbolic link" in one_line_exit_2(argv, capsys)
    assert target.read_text() == "my notes\n" and stat.S_IMODE(target.stat().st_mode) == 0o644
    dangling = tmp_path / "dangling.sqlite"
    dangling.symlink_to(tmp_path / "nowhere.sqlite")
    with pytest.raises(UserError, match="dangling.sqlite: a symbolic link"):
        db.open_db(str(dangling))
    assert not (tmp_path / "nowhere.sqlite").exists()
    fifo = tmp_path / "fifo.sqlite"
    os.mkfifo(fifo, 0o600)
    for readonly in (False, True):
        with pytest.raises(UserError, match="fifo.sqlite: not a regular file"):
            db.open_db(str(fifo), readonly)


def test_a_database_others_may_read_is_refused_with_the_fix(tmp_path, capsys):
    path = tmp_path / "w.sqlite"
    db.open_db(str(path)).close()
    path.chmod(0o644)
    err = one_line_exit_2(["report", "--db", str(path)], capsys)
    assert "mode 0644" in err and f"chmod 600 {path}" in err
    path.chmod(0o600)
    assert cli.main(["report", "--db", str(path)]) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_database_owned_by_another_user_is_refused(tmp_path):
    path = tmp_path / "w.sqlite"
    db.open_db(str(path)).close()
    os.chown(path, 65534, 65534)
    with pytest.raises(UserError, match="owned by another user"):
        db.open_db(str(path), readonly=True)


def test_a_missing_database_is_named_and_nothing_is_created(tmp_path, capsys):
    missing = tmp_path / "typo" / "x.sqlite"
    for argv in (["report"], ["export", "--csv"], ["plan"]):
        err = one_line_exit_2(argv + ["--db", str(missing)], capsys)
        assert f"no database at {missing}" in err and "walkdose sync" in err
    assert not (tmp_path / "typo").exists()


def test_read_commands_read_a_read_only_file_of_an_older_schema_and_change_nothing(recent_db, capsys):
    with sqlite3.connect(recent_db) as old:  # as walkdose wrote schema 1 before the added tables
        for name in db.ADDED_TABLES:
            old.execute(f"DROP TABLE {name}")
    old.close()
    recent_db.chmod(0o400)
    os.chmod(recent_db.parent, 0o500)  # no journal could be written either
    try:
        before = recent_db.read_bytes()
        for argv in (["report", "--json"], ["export", "--csv"], ["plan"]):
            assert cli.main(argv + ["--db", str(recent_db)]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert '"sensor_health": []' in out and '"estimates": []' in out and "Plan: goal" in out and out.count("\n") > 3
        assert recent_db.read_bytes() == before
        with db.opened(str(recent_db), readonly=True) as conn:
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                conn.execute("INSERT INTO plan VALUES (1, 90, 5, NULL)")
    finally:
        os.chmod(recent_db.parent, 0o700)


def test_a_locked_database_is_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "w.sqlite"
    db.open_db(str(path)).close()
    monkeypatch.setattr(db, "LOCK_WAIT_S", 0.1, raising=False)  # unfixed: 5 s, then a traceback
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a sync writing its records
    try:
        for argv in (["report"], ["plan", "--goal", "60"]):
            assert one_line_exit_2(argv + ["--db", str(path)], capsys).endswith(
                ": in use by another walkdose (a sync?) for more than 5 s; try again when it ends\n")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_full_disk_is_one_line(tmp_path):
    path = tmp_path / "w.sqlite"
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))  # noqa: E731 - `ulimit -f 8`
    run = subprocess.run([sys.executable, "-m", "walkdose.cli", "plan", "--goal", "60", "--db", str(path)],
                         capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"walkdose: {path}: ") and "free some space" in run.stderr


def test_first_opens_of_one_new_file_at_once_all_succeed(tmp_path):
    path = str(tmp_path / "new.sqlite")
    start = threading.Barrier(80)
    failures = []

    def first_open():
        start.wait()
        try:
            db.open_db(path).close()
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            failures.append(exc)

    threads = [threading.Thread(target=first_open) for _ in range(80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with db.opened(path, readonly=True) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 10


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to run walkdose as another user")
def test_no_permission_to_write_is_one_line():
    # The database is the user's (nobody's), mode 0600, but its folder is root's: SQLite cannot write its journal
    # beside it, so a change to the plan is refused with one line; reading it still works.
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:  # pytest's own folders are closed to other users
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "w.sqlite")
        db.open_db(path).close()
        os.chown(path, 65534, 65534)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                     "walkdose.cli"]
        env = {**os.environ, "HOME": folder}
        done = subprocess.run(as_nobody + ["plan", "--db", path, "--goal", "80"], capture_output=True, text=True,
                              timeout=120, env=env)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no permission to write" in done.stderr
        read = subprocess.run(as_nobody + ["report", "--db", path], capture_output=True, text=True, timeout=120,
                              env=env)
        assert read.returncode == 0, read.stderr
