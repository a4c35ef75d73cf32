"""Research recordings (.cwa, .gt3x, GENEActiv .bin) as they come from real devices, read beside the checkout
(../shared/data/formats; its README names each file's source and licence), against actfast where it reads them."""
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from conftest import REPO
from walkdose import formats, recording, replay

FORMATS = os.path.join(os.path.dirname(REPO), "shared", "data", "formats")


def real(name):
    path = os.path.join(FORMATS, name)
    if not os.path.exists(path):
        pytest.skip(f"research recordings not present at {FORMATS}")
    return path


def read(path):
    """(segment starts, rows with absolute t) of a file, and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        starts, parts = {}, []
        for index, start_s, rows in formats.iter_segments(path):
            starts.setdefault(index, start_s)
            parts.append(rows + [start_s, 0, 0, 0])
    return list(starts.values()), np.concatenate(parts), [str(w.message) for w in caught]


@pytest.mark.parametrize("name", ["ax3_testfile.cwa", "ax3_sample.cwa", "ax6_testfile.cwa", "ax6_sample.cwa",
                                  "actigraph_testfile.gt3x", "GENEActiv_testfile.bin", "gnactv_sample.bin"])
def test_samples_equal_actfasts_and_times_follow_the_block_timestamps(name):
    actfast = pytest.importorskip("actfast")
    _, rows, caught = read(real(name))
    theirs = actfast.read(real(name))["timeseries"]
    theirs = theirs.get("high_frequency") or theirs["acceleration"]
    assert caught == []
    np.testing.assert_array_equal(rows[:, 1:], theirs["acceleration"])
    # actfast spaces a block's samples at the nominal rate, walkdose by the next block's timestamp
    np.testing.assert_allclose(rows[:, 0], theirs["datetime"] / 1e9, rtol=0, atol=0.02)


@pytest.mark.parametrize("name, rate_hz", [("ax3_testfile.cwa", 98.87), ("ax3_sample.cwa", 197.24),
                                           ("ax6_sample.cwa", 98.41)])
def test_a_cwa_rate_is_measured_not_the_nominal_one(name, rate_hz):
    _, rows, _ = read(real(name))
    assert (len(rows) - 1) / (rows[-1, 0] - rows[0, 0]) == pytest.approx(rate_hz, abs=0.01)


def test_corrupt_cwa_blocks_are_skipped_counted_and_left_as_a_gap():
    starts, rows, caught = read(real("ax3_testfile_corrupt_blocks_0_13_14_142_143_144.cwa"))
    _, whole, _ = read(real("ax3_testfile.cwa"))
    assert len(caught) == 1 and "skipped 6 corrupt block(s)" in caught[0]
    assert len(rows) == len(whole) - 6 * 120
    assert len(starts) == 2  # blocks 13-14 are a hole of 2.4 s; 0 and 142-144 are the ends
    block = np.arange(len(whole)) // 120
    np.testing.assert_array_equal(whole[~np.isin(block, [0, 13, 14, 142, 143, 144]), 1:], rows[:, 1:])


def test_idle_sleep_leaves_gaps_with_no_samples_in_them():
    starts, rows, _ = read(real("ISM_Enabled.gt3x"))
    _, always_on, _ = read(real("ISM_Disabled.gt3x"))
    assert len(starts) == 3 and len(rows) == 2190 < len(always_on) == 9000
    assert np.diff(rows[:, 0]).max() > 30  # the device slept; nothing was made up for it
    assert np.median(np.linalg.norm(rows[:, 1:], axis=1)) == pytest.approx(1.0, abs=0.05)  # g, still on a desk


def test_a_link_gt3x_reads_where_actfast_finds_no_samples():
    starts, rows, _ = read(real("small.gt3x"))
    assert len(rows) > 800_000 and len(starts) > 100  # 30 Hz records, ~27,000 s of them
    result = replay.run_file(real("small.gt3x"), 50000, "cython")
    assert result["steps"] > 1000 and result["start_s"] == starts[0]
    t_s = [m["t_s"] for m in result["minutes"]]
    assert t_s == sorted(t_s) and t_s[-1] > 13 * 3600  # minutes of the later stretches keep their place in time


@pytest.mark.parametrize("name, says", [("genea_testfile.bin", "old Genea .bin (before GENEActiv) is not supported"),
                                        ("neo.gt3x", "old GT3X+ format (activity.bin, no log.bin) is not supported")])
def test_an_unsupported_old_format_says_so_in_one_line(name, says):
    done = subprocess.run([sys.executable, "-m", "walkdose.cli", "replay", real(name)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"walkdose: {real(name)}: {says}; " + done.stderr.split("; ", 1)[1]
    assert done.stderr.count("\n") == 1


def test_a_file_without_samples_is_an_error(tmp_path):
    path = tmp_path / "header_only.cwa"
    path.write_bytes(open(real("ax3_testfile.cwa"), "rb").read()[:1024])
    with pytest.raises(formats.FormatError, match="no accelerometer samples"):
        read(str(path))


def test_the_content_names_the_format_not_the_extension(tmp_path):
    renamed = tmp_path / "recording.csv"
    shutil.copy(real("ax3_testfile.cwa"), renamed)
    assert formats.kind(str(renamed)) == "cwa"
    assert replay.run_file(str(renamed), 50000, "cython") == replay.run_file(real("ax3_testfile.cwa"), 50000, "cython")


def test_folders_list_research_files_in_any_case(tmp_path):
    for name in ("a.CWA", "b.gt3x", "c.bin", "d.csv", "e.truth.json", "f.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [os.path.basename(p) for p in recording.find_recordings([str(tmp_path)])] == [
        "a.CWA", "b.gt3x", "c.bin", "d.csv"]
