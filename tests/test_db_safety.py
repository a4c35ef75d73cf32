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


def test_the_file_safety_messages_are_whole_lines_naming_the_file_and_the_fix(tmp_path, monkeypatch):
    target = tmp_path / "real.sqlite"
    link = tmp_path / "link.sqlite"
    link.symlink_to(target)
    symlink = (f"{link}: a symbolic link; walkdose opens only the file itself (a link could point its health data "
               f"anywhere): give the real path ({target}) with --db or WALKDOSE_DB")
    fifo = tmp_path / "fifo.sqlite"
    os.mkfifo(fifo, 0o600)
    special = f"{fifo}: not a regular file; choose a database file with --db or WALKDOSE_DB"
    under_a_file = tmp_path / "notes.txt" / "w.sqlite"
    (tmp_path / "notes.txt").write_text("x")
    for path, message in [(link, symlink), (fifo, special),
                          (under_a_file, f"{under_a_file}: cannot open the database (Not a directory); choose "
                                         "another with --db or WALKDOSE_DB")]:
        for readonly in (False, True):
            with pytest.raises(UserError) as refused:
                db.open_db(str(path), readonly)
            assert str(refused.value) == message
    # Put there after the check (a race): the open itself refuses to follow a symlink or to wait on a FIFO.
    monkeypatch.setattr(db, "_private_file", lambda path: None)
    for path, message in [(link, symlink), (fifo, special)]:
        with pytest.raises(UserError) as refused:
            db.open_db(str(path))
        assert str(refused.value) == message
    assert not target.exists()
    # a folder nobody may create files in (even root): the OS's reason, in one line
    with pytest.raises(UserError) as refused:
        db.open_db("/proc/walkdose-test.sqlite")
    assert str(refused.value) == ("/proc/walkdose-test.sqlite: cannot open the database (No such file or directory); "
                                  "choose another with --db or WALKDOSE_DB")


def test_the_folder_made_for_a_new_database_is_private_and_an_empty_file_is_made_0600(tmp_path):
    """docs/db-schema.md: the file is created with mode 0600; the folder walkdose makes for it is the user's alone
    (0700), so its journal's name and size are not shown to others either. A permissive umask widens neither."""
    old_umask = os.umask(0)
    try:
        db.open_db(str(tmp_path / "new" / "w.sqlite")).close()
        empty = tmp_path / "empty.sqlite"
        empty.touch(0o644)  # an empty file holds nothing yet: it becomes the database, private
        db.open_db(str(empty)).close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "w.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE(empty.stat().st_mode) == 0o600
    with sqlite3.connect(empty) as check:
        assert check.execute("PRAGMA application_id").fetchone()[0] == db.APPLICATION_ID
    check.close()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o610, 0o601, 0o620, 0o602, 0o700 | 0o070])
def test_any_access_for_group_or_others_is_refused_with_the_whole_fix(tmp_path, mode):
    path = tmp_path / "w.sqlite"
    db.open_db(str(path)).close()
    path.chmod(mode)
    for readonly in (False, True):
        with pytest.raises(UserError) as refused:
            db.open_db(str(path), readonly)
        assert str(refused.value) == (f"{path}: others may read it (mode {mode:04o}) and it holds health data; fix it "
                                      f"with: chmod 600 {path}")
    path.chmod(0o400)  # the owner's alone, read-only: reading works
    db.open_db(str(path), readonly=True).close()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_another_users_database_is_refused_with_its_uid_and_the_fix(tmp_path):
    path = tmp_path / "w.sqlite"
    db.open_db(str(path)).close()
    os.chown(path, 65534, 65534)
    for readonly in (False, True):
        with pytest.raises(UserError) as refused:
            db.open_db(str(path), readonly)
        assert str(refused.value) == (f"{path}: owned by another user (uid 65534); use your own database, or take "
                                      f"this one: chown $USER {path}")


def test_foreign_and_newer_files_are_refused_in_one_whole_line(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("x" * 200)
    text.chmod(0o600)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as songs:
        songs.execute("CREATE TABLE songs (title TEXT)")
    songs.close()
    other.chmod(0o600)
    newer = tmp_path / "newer.sqlite"
    db.open_db(str(newer)).execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}").connection.close()
    for path, message in [
            (text, f"{text}: not a walkdose database (not SQLite); choose another file with --db or WALKDOSE_DB"),
            (other, f"{other}: not a walkdose database (another program's SQLite file); choose another file with "
                    "--db or WALKDOSE_DB"),
            (newer, f"{newer}: written by a newer walkdose (schema 2, this one reads 1); upgrade walkdose")]:
        for readonly in (False, True):
            with pytest.raises(UserError) as refused:
                db.open_db(str(path), readonly)
            assert str(refused.value) == message
    assert text.read_text() == "x" * 200


def test_sqlites_explainable_errors_name_the_file_and_the_fix_in_one_line():
    """Each SQLite error a user can fix (db._CAUSES), as the user reads it: the file, then the cause and the fix."""
    expected = {
        sqlite3.SQLITE_BUSY: "in use by another walkdose (a sync?) for more than 5 s; try again when it ends",
        sqlite3.SQLITE_LOCKED: "in use by another walkdose (a sync?) for more than 5 s; try again when it ends",
        sqlite3.SQLITE_FULL: "the disk is full (or a file size limit is reached); free some space and try again",
        sqlite3.SQLITE_IOERR: "cannot write the file (disk full, a file size limit or a failing disk); free some space "
                              "and try again",
        sqlite3.SQLITE_READONLY: "no permission to write it or its folder (SQLite writes a journal beside it)",
        sqlite3.SQLITE_CANTOPEN: "no permission to open it or write its folder (SQLite writes a journal beside it)",
        sqlite3.SQLITE_PERM: "no permission to open it",
    }
    for code, cause in expected.items():
        for extended in (code, code | 3 << 8):  # an extended result code explains as its primary one
            error = sqlite3.OperationalError("x")
            error.sqlite_errorcode = extended
            assert str(db.user_error("/data/w.sqlite", error)) == f"/data/w.sqlite: {cause}"
    for unexplained in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_MISMATCH, None):
        error = sqlite3.OperationalError("x")
        if unexplained is not None:
            error.sqlite_errorcode = unexplained
        assert db.user_error("/data/w.sqlite", error) is error


def test_a_missing_database_read_is_one_whole_line_with_the_ways_to_get_one(tmp_path):
    missing = tmp_path / "x.sqlite"
    with pytest.raises(UserError) as refused:
        db.open_db(str(missing), readonly=True)
    assert str(refused.value) == (f"no database at {missing}: `walkdose sync` fills one from a board (`walkdose demo` "
                                  "shows one); choose another with --db or WALKDOSE_DB")
    assert not missing.exists()


def test_an_empty_file_read_only_reads_as_an_empty_database_and_stays_empty(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    path.chmod(0o644)  # holds nothing yet, so nothing to keep private: read, never changed
    with db.opened(str(path), readonly=True) as conn:
        assert db.device_ids(conn) == [] and db.minute_rows(conn) == [] and db.load_plan(conn) is None
        assert db.quarantined(conn) == [] and db.sensor_totals(conn) == [] and db.plan_changes(conn) == []
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_temp_master WHERE type = 'table'")}
        assert tables == {"devices", "boots", "records", "minutes", "losses", "plan", *db.ADDED_TABLES}
    assert path.stat().st_size == 0 and stat.S_IMODE(path.stat().st_mode) == 0o644
