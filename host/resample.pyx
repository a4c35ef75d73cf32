"""The resampler: a recording's samples (t in s, x, y, z in g) turned into the int16 counts an IMU would deliver at
the device rate, one pass per chunk in C. The only resampler: recording.py and every reader go through it. Knows
nothing of files or steps."""
import math

import numpy as np

from libc.math cimport floor, rint


cdef class Resampler:
    """Linear interpolation onto `oversample` sub-grid points per output period, centred on
    t_k = (k + phase) / rate, averaged (a box filter: the IMU's own anti-alias filter), then scaled, rounded and
    clipped to int16. Deterministic: the same input gives the same counts, however it is chunked. The phase (0 to
    1 sample) is where a device's clock happens to fall between the recording's samples. The arithmetic is
    numpy's interp and mean, operation for operation, so the counts equal those of the numpy resampler it replaced."""
    cdef readonly double rate_hz, counts_per_g, offset, step
    cdef readonly long long oversample, next_k
    cdef bint has_tail
    cdef double tail[4]  # the last input row (t, x, y, z) of the previous chunk
    cdef double box[3]  # sums of the current output period's sub-points so far
    cdef long long in_box

    def __init__(self, rate_mhz, counts_per_g, input_rate_hz, phase=0.0):
        self.rate_hz = rate_mhz / 1000.0
        self.counts_per_g = counts_per_g
        # Sub-points no further apart than the input's samples, so the box spans the whole output period
        # (32 Hz into 25 Hz: two, not one, which would alias). 1/0.005 s is 199.99999...: allow for the
        # float before rounding up, so that whole ratios keep exactly that many sub-points.
        self.oversample = max(1, math.ceil(input_rate_hz / self.rate_hz - 1e-6))
        # Sub-steps from the first sub-point to the centre, less the phase.
        self.offset = (self.oversample - 1) / 2.0 - phase * self.oversample
        self.step = 1.0 / (self.rate_hz * self.oversample)
        self.next_k = 0  # next sub-grid index to produce
        self.has_tail = False
        self.in_box = 0

    def push(self, rows):
        """The int16 (m, 3) counts of every whole output period up to the last row of `rows` (float64 (k, 4) of
        t, x, y, z, t increasing)."""
        cdef const double[:, ::1] flat = np.ascontiguousarray(rows, dtype=np.float64)
        cdef Py_ssize_t n = flat.shape[0]
        if n == 0:
            return np.zeros((0, 3), dtype=np.int16)
        cdef long long last_k = <long long>floor(flat[n - 1, 0] / self.step + self.offset + 1e-9)
        cdef long long sub = last_k - self.next_k + 1 if last_k >= self.next_k else 0
        out = np.empty(((self.in_box + sub) // self.oversample, 3), dtype=np.int16)
        cdef short[:, ::1] counts = out
        cdef short* first_count = &counts[0, 0] if counts.shape[0] else NULL
        with nogil:
            self._fill(&flat[0, 0], n, last_k, first_count)
        return out

    cdef void _fill(self, const double* rows, Py_ssize_t n, long long last_k, short* counts) noexcept nogil:
        # lo is the input row at or before the sub-point (numpy's binary search, walked forward): the previous
        # chunk's last row, then rows[0..n-1]; rows[up] is the row after it.
        cdef const double* lo = rows
        cdef Py_ssize_t up = 1
        cdef const double* hi
        cdef long long k
        cdef int c
        cdef double g, span, value, scaled
        cdef bint on_row
        if self.has_tail:
            lo = &self.tail[0]
            up = 0
        for k in range(self.next_k, last_k + 1):
            g = (<double>k - self.offset) * self.step
            while up < n and rows[4 * up] <= g:
                lo = rows + 4 * up
                up += 1
            hi = rows + 4 * up
            on_row = g < lo[0] or up == n or lo[0] == g  # before the first row, at or after the last, on a row
            span = hi[0] - lo[0] if not on_row else 1.0
            for c in range(1, 4):
                value = lo[c] if on_row else (hi[c] - lo[c]) / span * (g - lo[0]) + lo[c]
                self.box[c - 1] = value if self.in_box == 0 else self.box[c - 1] + value
            self.in_box += 1
            if self.in_box == self.oversample:
                for c in range(3):
                    scaled = rint(self.box[c] / <double>self.oversample * self.counts_per_g)
                    counts[c] = <short>(-32768.0 if scaled < -32768.0 else (32767.0 if scaled > 32767.0 else scaled))
                counts += 3
                self.in_box = 0
        if last_k >= self.next_k:
            self.next_k = last_k + 1
        for c in range(4):
            self.tail[c] = rows[4 * (n - 1) + c]
        self.has_tail = True
