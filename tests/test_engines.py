"""The three engines of the one detector (firmware/detector.py): compiled by Cython (walkdose.detector), interpreted
by CPython and by the real MicroPython. The same events, state and replay JSON, byte for byte, on recordings and on
generated signals at every device rate and scale, fed in batches that split anywhere."""
import glob
import importlib.machinery
import inspect
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walkdose import detector as compiled
from walkdose import replay
from walkdose.firmware import detector as spec
from walkdose.recording import DEVICE_RATES_MHZ, load_counts

from conftest import PUBLIC, REPO
from synthetic import concat, still, to_counts, turning, walking

SCALES = (2048, 4096, 8192, 16384)
# Two of each public set: walking at the wrist, driving, lower back, phones, and wrist gestures that are not steps.
PUBLIC_PICKS = ("espruino-wrist/HughB-walk-1834.csv", "espruino-wrist/HughB-drive-18.csv",
                "truong-lowerback/1-1.csv", "truong-lowerback/1-2.csv",
                "oxford-phone/Nexus_Jamie_Hard_InHand_1.csv", "oxford-phone/Pixel_Jamie_Carpet_InHand_1.csv",
                "hmp-wrist/Brush_teeth_2011-04-11-13-28-18-brush_teeth-f1.csv",
                "hmp-wrist/Brush_teeth_2011-05-30-08-35-11-brush_teeth-f1.csv",
                # magnitude-only arm work: held on trial by its erratic troughs, with crests of every height between
                "rieck-wrist-magnitude/l2-25hz-bw4_shoe-laces2.csv")
CONFIG = ("rate_mhz", "counts_per_g", "spm", "mg_q9", "d_min", "d_max", "bout_min", "bout_gap", "d_slow", "lag",
          "arm_high")
# Every integer the detector keeps between feed() calls, read off the interpreted one: a field the .pxd types
# wrongly (or as a C type too narrow for it) fails here by name. The per-sample chain (its settings too) and the
# interval's sums are arrays of such integers.
STATE = tuple(sorted(name for name, value in vars(spec.Detector(50000, 4096)).items()
                     if isinstance(value, int) and name not in CONFIG))
STATE_ARRAYS = ("chain", "win_sums")


def results_json(engines, chunks, rate_mhz, counts_per_g):
    return {engine: json.dumps(replay.run(engine, chunks, rate_mhz, counts_per_g)) for engine in engines}


def feed_in_batches(det, flat, batches):
    """Every event word and every piece of state after each feed() and the flush, batch sizes cycling."""
    trace = []
    start = 0
    total = len(flat) // 3
    k = 0
    while start < total:
        n = min(batches[k % len(batches)], total - start)
        k += 1
        while n:
            used = det.feed(flat, start, n)
            trace.append((used, list(det.events[:det.n_events * spec.EV_WORDS])))
            trace.append([getattr(det, name) for name in STATE] + [list(getattr(det, name)) for name in STATE_ARRAYS])
            start += used
            n -= used
    n_events = det.flush()
    trace.append(list(det.events[:n_events * spec.EV_WORDS]))
    return trace


def python_and_cython_traces(counts, rate_mhz, counts_per_g, batches):
    from array import array
    flat = np.ascontiguousarray(counts, dtype=np.int16).reshape(-1)
    python = feed_in_batches(spec.Detector(rate_mhz, counts_per_g), array("h", flat.tobytes()), batches)
    cython = feed_in_batches(compiled.Detector(rate_mhz, counts_per_g), flat, batches)
    return python, cython


def test_the_fast_engine_is_the_firmware_file_compiled():
    # No silent fallback to the interpreted detector: the cython engine's module is a C extension, its class has no
    # instance dict (a cdef class), and its code objects name the firmware's own source file.
    assert compiled.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    assert compiled.Detector is not spec.Detector and not inspect.isfunction(compiled.Detector.feed)
    with pytest.raises(AttributeError):
        compiled.Detector(50000, 4096).not_a_field = 1
    source = compiled.Detector.feed.__code__.co_filename
    assert source.replace(os.sep, "/").endswith("firmware/detector.py"), source
    assert replay.compiled_detector() is compiled.Detector


@pytest.mark.parametrize("rate_mhz", DEVICE_RATES_MHZ + (10000, 200000))
def test_start_up_arithmetic_is_the_same(rate_mhz):
    for ms in (270, 640, 750, 1250, 1280, 3000, 10000):
        assert compiled.samples_for_ms(ms, rate_mhz) == spec.samples_for_ms(ms, rate_mhz)
        assert compiled.shift_for_ms(ms, rate_mhz) == spec.shift_for_ms(ms, rate_mhz)
    assert compiled.lowpass_q12(spec.LP_CUTOFF_MHZ, rate_mhz) == spec.lowpass_q12(spec.LP_CUTOFF_MHZ, rate_mhz)
    for counts_per_g in SCALES:
        python, cython = spec.Detector(rate_mhz, counts_per_g), compiled.Detector(rate_mhz, counts_per_g)
        for name in CONFIG + STATE:
            assert getattr(cython, name) == getattr(python, name), name
        for name in STATE_ARRAYS:
            assert list(getattr(cython, name)) == list(getattr(python, name)), name


def test_bad_settings_are_refused_alike():
    for rate_mhz, counts_per_g in ((9999, 4096), (50001, 4096), (50000, 1023), (50000, 16385)):
        with pytest.raises(ValueError) as from_spec:
            spec.Detector(rate_mhz, counts_per_g)
        with pytest.raises(ValueError) as from_compiled:
            compiled.Detector(rate_mhz, counts_per_g)
        assert str(from_compiled.value) == str(from_spec.value)


def recordings():
    shipped = sorted(glob.glob(os.path.join(REPO, "recordings", "*.csv")))
    public = [os.path.join(PUBLIC, pick) for pick in PUBLIC_PICKS]
    return [pytest.param(p, id=os.path.relpath(p, REPO)) for p in shipped] + \
           [pytest.param(p, id=pick) for p, pick in zip(public, PUBLIC_PICKS)]


@pytest.mark.parametrize("path", recordings())
def test_three_engines_agree_on_recordings(path):
    if not os.path.exists(path):
        pytest.skip(f"public recording not present at {path} (the data set lives in ../shared/data/public)")
    for rate_mhz, counts_per_g in ((50000, 4096), (26000, 16384)):
        counts = load_counts(path, rate_mhz, counts_per_g)
        # chunk boundaries that fall mid-batch, as the CLI's streaming reader produces them
        chunks = np.array_split(counts, [1000, 5003, 5004])
        results = results_json(("cython", "python", "micropython"), chunks, rate_mhz, counts_per_g)
        assert results["cython"] == results["python"] == results["micropython"], (rate_mhz, counts_per_g)


@st.composite
def signals(draw):
    """(counts, rate_mhz, counts_per_g): one of saturation, a constant, impulses, white noise or a sine sweep."""
    rate_mhz = draw(st.sampled_from(DEVICE_RATES_MHZ))
    counts_per_g = draw(st.sampled_from(SCALES))
    kind = draw(st.sampled_from(("saturation", "constant", "impulses", "noise", "sweep")))
    n = draw(st.integers(0, int(150 * rate_mhz / 1000)))  # up to 150 s: two minute rollovers and their reports
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "saturation":
        counts = rng.choice(np.array([-32768, 32767, 0], dtype=np.int16), size=(n, 3))
        return np.repeat(counts, draw(st.integers(1, 40)), axis=0)[:n], rate_mhz, counts_per_g
    if kind == "constant":
        value = draw(st.tuples(*[st.integers(-32768, 32767)] * 3))
        return np.tile(np.array(value, dtype=np.int16), (n, 1)), rate_mhz, counts_per_g
    down = rng.normal(size=3)
    g = np.tile(down / np.linalg.norm(down), (n, 1))
    if kind == "impulses":
        at = rng.random(n) < draw(st.floats(0.001, 0.1))
        g[at] += rng.normal(scale=draw(st.floats(0.1, 8.0)), size=(int(at.sum()), 3))
    elif kind == "noise":
        g += rng.normal(scale=draw(st.floats(0.001, 2.0)), size=(n, 3))
    else:
        f0, f1 = draw(st.floats(0.5, 4.0)), draw(st.floats(0.5, 4.0))
        amplitude_g = draw(st.floats(0.05, 3.0))
        t = np.arange(n) / (rate_mhz / 1000.0)
        sweep_hz = f0 + (f1 - f0) * t / max(t[-1] if n else 1.0, 1e-9) / 2  # instantaneous f0 -> f1
        axis = rng.normal(size=3)
        g += np.outer(amplitude_g * np.sin(2 * np.pi * sweep_hz * t), axis / np.linalg.norm(axis))
        g += rng.normal(scale=0.02, size=(n, 3))
    return np.clip(np.rint(g * counts_per_g), -32768, 32767).astype(np.int16), rate_mhz, counts_per_g


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signal=signals(), batches=st.lists(st.integers(1, 5000), min_size=1, max_size=6))
def test_python_and_cython_agree_on_every_event_and_state(signal, batches):
    counts, rate_mhz, counts_per_g = signal
    python, cython = python_and_cython_traces(counts, rate_mhz, counts_per_g, batches)
    assert cython == python
    # batching is invisible in the replay result too
    cut = np.cumsum(batches)
    chunks = np.split(counts, cut[cut < len(counts)])
    assert json.dumps(replay.run("cython", chunks, rate_mhz, counts_per_g)) == \
        json.dumps(replay.run("python", [counts], rate_mhz, counts_per_g))


def walk_with_pauses(rate_hz):
    return to_counts(concat(still(20, rate_hz), walking(70, rate_hz, 112, seed=1), still(4, rate_hz),
                            walking(40, rate_hz, 96, amplitude_g=0.2, seed=2), still(30, rate_hz)))


def turning_walks(rate_hz):
    """Walks on trial: six steps dropped, then twenty held and counted across a minute's end."""
    return to_counts(concat(still(5, rate_hz), turning(walking(6 * 60 / 110, rate_hz, 110), rate_hz, 30),
                            still(48, rate_hz), turning(walking(20 * 60 / 110, rate_hz, 110), rate_hz, 30),
                            still(10, rate_hz)))


def saturated_shaking(rate_hz):
    n = int(90 * rate_hz)
    t = np.arange(n) / rate_hz
    g = np.zeros((n, 3))
    g[:, 0] = 12.0 * np.sin(2 * np.pi * 2.0 * t)
    g[:, 2] = 1.0
    return to_counts(g)


@pytest.mark.parametrize("rate_mhz, counts_per_g, make", [
    (12500, 2048, walk_with_pauses),
    (104000, 16384, walk_with_pauses),
    (52000, 4096, saturated_shaking),
    (26000, 8192, turning_walks),
])
def test_micropython_agrees_on_fixed_signals(rate_mhz, counts_per_g, make):
    counts = make(rate_mhz / 1000.0)
    if counts_per_g != 4096:
        counts = np.clip(counts.astype(np.int32) * counts_per_g // 4096, -32768, 32767).astype(np.int16)
    results = results_json(("cython", "python", "micropython"), np.array_split(counts, 3), rate_mhz,
                           counts_per_g)
    assert results["cython"] == results["python"] == results["micropython"]
    assert json.loads(results["cython"])["steps"] > 0 or make is saturated_shaking


@pytest.mark.parametrize("name, mutated", [("THR_MIN_MG", 30), ("SWING_EIGHTHS", 3), ("N_CONFIRM", 6), ("FLAT_SIDE_MG", 8)])
def test_a_constant_changed_in_the_spec_alone_is_caught(monkeypatch, name, mutated):
    """The comparison above is not vacuous: one constant changed in the Python engine only (const() is the
    identity on CPython, so a fresh Detector reads the patched module global) makes it fail on real walking."""
    counts = load_counts(os.path.join(REPO, "recordings", "Samsung_Jamie_Hard_InHand_1.csv"), 50000, 4096)
    python, cython = python_and_cython_traces(counts, 50000, 4096, [4096])
    assert cython == python
    monkeypatch.setattr(spec, name, mutated)
    python, cython = python_and_cython_traces(counts, 50000, 4096, [4096])
    assert cython != python
