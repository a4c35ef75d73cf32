"""Every per-sample intermediate of the firmware detector stays within +/-2^29 (31-bit small ints on the
boards; the unix port's 63-bit ints would hide an overflow). The detector's own source is instrumented:
each arithmetic result in the methods feed() reaches is passed through a check, so nothing is re-implemented."""
import ast
import os

import numpy as np
import pytest
from array import array

from walkdose.firmware import detector as spec

from synthetic import brushing, concat, still, to_counts, walking

BOUND = 1 << 29
# Start-up code (constructor and constant helpers) may use big ints once; everything else runs per sample or per
# event, including any method added later.
START_UP = {"samples_for_ms", "samples_over_ms", "shift_for_ms", "lowpass_q12", "__init__", "reset"}


class OutOfBound(AssertionError):
    pass


def _bound(value):
    if isinstance(value, int) and not -BOUND <= value <= BOUND:
        raise OutOfBound(f"intermediate {value} leaves +/-2^29")
    return value


class _Instrument(ast.NodeTransformer):
    def __init__(self):
        self.inside = 0

    def visit_FunctionDef(self, node):
        if node.name in START_UP:
            return node
        self.inside += 1
        self.generic_visit(node)
        self.inside -= 1
        return node

    def _wrap(self, node):
        return ast.copy_location(ast.Call(ast.Name("_bound", ast.Load()), [node], []), node)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return self._wrap(node) if self.inside else node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        return self._wrap(node) if self.inside else node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if not self.inside:
            return node
        load = ast.parse(ast.unparse(node.target), mode="eval").body
        value = self._wrap(ast.BinOp(load, node.op, node.value))
        return ast.copy_location(ast.Assign([node.target], value), node)


def instrumented_detector_module():
    source = open(spec.__file__).read()
    tree = ast.fix_missing_locations(_Instrument().visit(ast.parse(source)))
    namespace = {"__name__": "walkdose.firmware.detector_bounded", "__package__": "walkdose.firmware",
                 "_bound": _bound}
    exec(compile(tree, spec.__file__, "exec"), namespace)
    return namespace


BOUNDED = instrumented_detector_module()


def drive(counts, rate_mhz, counts_per_g=4096, batch=640):
    det = BOUNDED["Detector"](rate_mhz, counts_per_g)
    flat = array("h", np.ascontiguousarray(counts, dtype=np.int16).tobytes())
    start, left = 0, len(counts)
    while left:
        used = det.feed(flat, start, min(batch, left))
        start += used
        left -= used
    det.flush()
    return det


def saturated(n):
    rng = np.random.default_rng(1)
    return rng.choice(np.array([-32768, 32767], dtype=np.int16), size=(n, 3))


def impulses(n):
    out = np.zeros((n, 3), dtype=np.int16)
    out[:, 2] = 4096
    out[::37] = (32767, -32768, 32767)
    out[::53] = (-32768, -32768, -32768)
    return out


def noise(n):
    return np.random.default_rng(2).integers(-32768, 32768, size=(n, 3), dtype=np.int16)


SIGNALS = {
    "saturated square": saturated,
    "constant full scale": lambda n: np.full((n, 3), -32768, dtype=np.int16),
    "constant zero": lambda n: np.zeros((n, 3), dtype=np.int16),
    "impulses": impulses,
    "white noise": noise,
    "walking": lambda n: to_counts(walking(n / 50, 50, 120, amplitude_g=2.5)),
    "brushing at full scale": lambda n: to_counts(7 * brushing(n / 50, 50, 110)),
}


@pytest.mark.parametrize("name", sorted(SIGNALS))
@pytest.mark.parametrize("rate_mhz, counts_per_g", ((12500, 16384), (104000, 1024), (50000, 4096)))
def test_hostile_signals_stay_within_small_ints(name, rate_mhz, counts_per_g):
    # Three minutes: crosses minute rollovers and the report lag.
    drive(SIGNALS[name](rate_mhz * 185 // 1000), rate_mhz, counts_per_g)


def test_a_long_idle_run_keeps_positions_small():
    # Six hours still then walking, at 104 Hz: positions are rebased every minute, never grow.
    rate = 104000
    det = drive(concat(to_counts(still(6 * 3600, 104)), to_counts(walking(30, 104, 100))), rate, batch=4096)
    assert abs(det.cand_pos) < det.spm and det.minute == 6 * 60


def test_stale_positions_of_an_idle_board_stop_at_the_floor():
    # Months without a step would otherwise push a finished walk's positions past 2^29 at the rollovers.
    det = BOUNDED["Detector"](104000, 4096)
    floor = BOUNDED["POS_FLOOR"]
    det.seg_start = det.seg_end = det.bout_start = det.peak_pos = floor + 100
    for _ in range(3):
        det.roll_minute(0)
    assert det.seg_start == det.seg_end == det.bout_start == det.peak_pos == floor
    assert det.cand_pos == -2 * det.d_max


def test_real_recordings_stay_within_small_ints():
    from conftest import public_set
    from walkdose import recording
    folder = public_set("oxford-phone")
    for name in sorted(os.listdir(folder))[:4:2]:
        drive(recording.load_counts(os.path.join(folder, name), 104000, 4096), 104000)


def test_the_checker_catches_an_overflow():
    # The instrumentation is live: a per-sample path that squares raw counts would be caught.
    with pytest.raises(OutOfBound):
        BOUNDED["pace_of"](1 << 20, 1, 1 << 10)
