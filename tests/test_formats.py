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
from walkdose import cohort, formats, recording, replay

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



def rewritten_cwa(path, template, data_of_block, axes_bps=None):
    """The header and first two blocks of a real .cwa with each block's 480 sample bytes replaced by
    data_of_block(b) (and its layout byte by axes_bps) and its checksum made good again."""
    raw = open(real(template), "rb").read()
    header = int.from_bytes(raw[2:4], "little") + 4
    blocks = np.frombuffer(raw[header:header + 1024], np.uint8).reshape(2, 512).copy()
    for b in range(2):
        blocks[b, 30:510] = np.frombuffer(data_of_block(b), np.uint8)
        if axes_bps is not None:
            blocks[b, 25] = axes_bps
        words = blocks[b].view("<u2")
        words[255] = 0
        words[255] = -int(words.sum(dtype=np.uint16)) & 0xFFFF
    path.write_bytes(raw[:header] + blocks.tobytes())
    return str(path)


def test_packed_ax3_samples_decode_to_the_values_written(tmp_path):
    # 10-bit x, y, z and a shared 2-bit exponent in 4 bytes, in 1/256 g: every exponent, both signs, full scale
    rng = np.random.default_rng(3)
    xyz = rng.integers(-512, 512, (2, 120, 3))
    xyz[0, :4] = [[511, -512, 0], [-1, 1, 256], [100, -100, 3], [-512, 511, -256]]
    exponent = rng.integers(0, 4, (2, 120))
    exponent[0, :4] = [0, 1, 2, 3]

    def packed(b):
        bits = xyz[b] & 0x3FF
        return (bits[:, 0] | bits[:, 1] << 10 | bits[:, 2] << 20 | exponent[b] << 30).astype("<u4").tobytes()
    _, rows, caught = read(rewritten_cwa(tmp_path / "packed.cwa", "ax3_testfile.cwa", packed))
    assert caught == [] and len(rows) == 240  # the last block spaced at the nominal rate: no next block
    expected = (xyz * 2.0 ** exponent[:, :, None] / 256).reshape(-1, 3)
    np.testing.assert_array_equal(rows[:, 1:], expected)
    assert rows[0, 1:].tolist() == [511 / 256, -2.0, 0.0] and rows[3, 1:].tolist() == [-16.0, 511 / 32, -8.0]


def test_ax6_samples_decode_to_the_accelerometer_values_written_after_the_gyroscope(tmp_path):
    rng = np.random.default_rng(4)
    gyro_accel = rng.integers(-32768, 32768, (2, 40, 6))
    _, rows, caught = read(rewritten_cwa(tmp_path / "ax6.cwa", "ax6_testfile.cwa",
                                         lambda b: gyro_accel[b].astype("<i2").tobytes()))
    # the template's blocks say 2048 counts per g: 2^(8 + 3), 3 in the top bits of the light word
    assert caught == [] and len(rows) == 80
    np.testing.assert_array_equal(rows[:, 1:], gyro_accel[:, :, 3:].reshape(-1, 3) / 2048)


def test_cwa_blocks_without_three_axes_are_one_line_naming_the_file(tmp_path, capsys):
    path = rewritten_cwa(tmp_path / "two_axes.cwa", "ax6_testfile.cwa", lambda b: bytes(480), axes_bps=0x22)
    with pytest.raises(formats.FormatError, match="two_axes.cwa: .cwa blocks of 2 axes: no accelerometer x, y, z"):
        read(path)


@pytest.mark.parametrize("name", ["ax3_testfile.cwa", "ax3_testfile_corrupt_blocks_0_13_14_142_143_144.cwa",
                                  "ax6_sample.cwa"])
@pytest.mark.parametrize("blocks_per_read", [1, 7])
def test_a_cwa_read_in_any_number_of_blocks_at_a_time_gives_the_same_samples_and_days(name, blocks_per_read,
                                                                                      monkeypatch):
    whole_starts, whole, _ = read(real(name))
    days = cohort.file_days(real(name), 50000, "cython", 600)
    monkeypatch.setattr(formats, "BLOCKS_PER_READ", blocks_per_read)
    starts, rows, _ = read(real(name))
    assert starts == whole_starts
    np.testing.assert_array_equal(rows, whole)
    assert cohort.file_days(real(name), 50000, "cython", 600) == days
