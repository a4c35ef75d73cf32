"""Reading and resampling recordings: hand-computed values, chunking that changes nothing, IMU clipping."""
import numpy as np
import pytest

from walkdose import recording


def write_csv(path, t, xyz):
    with open(path, "w") as fh:
        fh.write("t,x,y,z\n")
        for ti, (x, y, z) in zip(t, xyz):
            fh.write(f"{ti:.6f},{x:.6f},{y:.6f},{z:.6f}\n")
    return str(path)


def test_same_rate_passes_samples_through_as_counts(tmp_path):
    t = np.arange(10) / 50.0
    xyz = np.column_stack((np.zeros(10), np.full(10, -0.5), np.linspace(0, 0.9, 10)))
    counts = recording.load_counts(write_csv(tmp_path / "a.csv", t, xyz), 50000, 4096)
    assert counts.dtype == np.int16 and counts.shape == (10, 3)
    assert counts[:, 1].tolist() == [-2048] * 10
    assert counts[:, 2].tolist() == [round(v * 4096) for v in np.linspace(0, 0.9, 10)]


def test_downsampling_averages_each_output_period(tmp_path):
    # 200 Hz ramp z = t g resampled to 50 Hz: each output is the mean of 4 sub-points centred on k * 0.02 s
    # (the first is clamped at the recording's start: 0, 0, 0.0025, 0.0075 -> 0.0025).
    t = np.arange(0, 2.0, 0.005)
    xyz = np.column_stack((np.zeros_like(t), np.zeros_like(t), t))
    counts = recording.load_counts(write_csv(tmp_path / "r.csv", t, xyz), 50000, 4096)
    expected = [round(4096 * 0.0025)] + [round(4096 * k * 0.02) for k in range(1, len(counts))]
    assert counts[:, 2].tolist() == expected


def test_downsampling_sixteen_to_one_averages_sixteen_sub_points(tmp_path):
    # 200 Hz ramp z = t g into 12.5 Hz: 16 sub-points 5 ms apart centred on k * 0.08 s average to k * 0.08 g;
    # the first output's eight sub-points before t = 0 are clamped to 0: (0.5 + ... + 7.5) * 0.005 / 16 = 0.01 g
    t = np.arange(0, 4.0, 0.005)
    xyz = np.column_stack((np.zeros_like(t), np.zeros_like(t), t))
    counts = recording.load_counts(write_csv(tmp_path / "r.csv", t, xyz), 12500, 4096)
    assert counts[:, 2].tolist() == [round(4096 * 0.01)] + [round(4096 * k * 0.08) for k in range(1, len(counts))]
    assert len(counts) == 50


def test_a_phase_places_the_device_samples_later_by_that_fraction_of_a_period(tmp_path):
    # The same 200 Hz ramp z = t g with the device's samples a quarter period (5 ms) later: each output is the
    # mean of 4 sub-points centred on (k + 1/4) * 0.02 s. Nothing is lost at the end: the last output still
    # lies within the recording.
    t = np.arange(0, 2.0, 0.005)
    xyz = np.column_stack((np.zeros_like(t), np.zeros_like(t), t))
    path = write_csv(tmp_path / "r.csv", t, xyz)
    counts = recording.load_counts(path, 50000, 4096, phase=0.25)
    assert counts[1:, 2].tolist() == [round(4096 * (k + 0.25) * 0.02) for k in range(1, len(counts))]
    assert (len(counts) - 1 + 0.25) * 0.02 <= t[-1] < (len(counts) + 0.25) * 0.02


def test_downsampling_by_a_fraction_still_averages_so_nothing_aliases(tmp_path):
    # 32 Hz alternating +/-0.5 g (all of it at the input's Nyquist frequency) into 25 Hz: two sub-points 20 ms
    # apart per output, on a triangle wave of period 62.5 ms, average to at most 0.5 * (1 - 40 / 62.5) = 0.18 g.
    # Sampling it once per output period (what a ratio of 1.28 rounded down gave) passes up to 0.5 * 0.84.
    t = np.arange(320) / 32.0
    z = np.where(np.arange(320) % 2, -0.5, 0.5)
    counts = recording.load_counts(write_csv(tmp_path / "n.csv", t, np.column_stack((0 * t, 0 * t, z))), 25000, 4096)
    assert len(counts) >= 249
    assert np.abs(counts[1:, 2]).max() <= round(4096 * 0.18) + 1  # the first output is clamped at the start


def test_irregular_input_is_interpolated_linearly(tmp_path):
    t = np.array([0.0, 0.013, 0.041, 0.06, 0.1])
    z = 10 * t  # a straight line survives linear interpolation exactly
    counts = recording.load_counts(write_csv(tmp_path / "i.csv", t, np.column_stack((0 * t, 0 * t, z))), 50000, 4096)
    assert counts[:, 2].tolist() == [round(4096 * 10 * k * 0.02) for k in range(len(counts))]


def test_chunk_boundaries_change_nothing(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    t = np.cumsum(rng.uniform(0.002, 0.004, 3000))
    path = write_csv(tmp_path / "c.csv", t - t[0], rng.normal(0, 1, (3000, 3)))
    whole = recording.load_counts(path, 52000, 4096)
    monkeypatch.setattr(recording, "CHUNK_ROWS", 37)  # read at call time
    parts = list(recording.iter_counts(path, 52000, 4096))
    assert len(parts) > 10
    assert np.array_equal(np.concatenate(parts), whole)


def test_beyond_full_scale_clips_like_the_imu(tmp_path):
    t = np.arange(5) / 50.0
    xyz = np.array([[9.0, -9.0, 7.99]] * 5)
    counts = recording.load_counts(write_csv(tmp_path / "s.csv", t, xyz), 50000, 4096)
    assert counts[0].tolist() == [32767, -32768, 32727]


def test_find_recordings_pairs_truth_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_text("t,x,y,z\n")
    (tmp_path / "sub" / "a.truth.json").write_text("{}")
    (tmp_path / "b.csv").write_text("t,x,y,z\n")
    found = recording.find_recordings([str(tmp_path)])
    assert found == sorted([str(tmp_path / "sub" / "a.csv"), str(tmp_path / "b.csv")])
    truths = {p.rsplit("/", 1)[1]: recording.truth_path(p) for p in found}
    assert truths["a.csv"].endswith("a.truth.json") and truths["b.csv"] is None
    with pytest.raises(recording.RecordingError):
        recording.find_recordings([str(tmp_path / "missing")])


def test_a_chunk_of_blank_lines_does_not_end_the_recording(tmp_path, monkeypatch):
    path = tmp_path / "gap.csv"
    rows = [f"{k / 50:.2f},0,0,1" for k in range(50)]
    path.write_text("t,x,y,z\n" + "\n".join(rows[:10]) + "\n" * 40 + "\n".join(rows[10:]) + "\n")
    monkeypatch.setattr(recording, "CHUNK_ROWS", 16)
    assert sum(len(chunk) for chunk in recording.iter_rows(str(path))) == 50
