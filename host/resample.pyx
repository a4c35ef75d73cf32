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
    1 sample) is where a device's clock happens to fall between the recording's samples. Interpolation and sums
    follow numpy's interp and mean operation for operation, so the counts are theirs to the bit."""
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

    def push(self, const double[:, :] rows):
        """The int16 (m, 3) counts of every whole output period up to the last row of `rows` (float64 (k, 4) of
        t, x, y, z, t increasing)."""
        cdef Py_ssize_t n = rows.shape[0]
        if n == 0:
            return np.zeros((0, 3), dtype=np.int16)
        cdef long long last_k = <long long>floor(rows[n - 1, 0] / self.step + self.offset + 1e-9)
        cdef long long sub = last_k - self.next_k + 1 if last_k >= self.next_k else 0
        out = np.empty(((self.in_box + sub) // self.oversample, 3), dtype=np.int16)
        cdef short[:, ::1] counts = out
        with nogil:
            self._fill(rows, last_k, counts)
        return out

    cdef void _fill(self, const double[:, :] rows, long long last_k, short[:, ::1] counts) noexcept nogil:
        # The input is the previous chunk's last row, then `rows`: row r of that sequence is rows[r - first].
        cdef Py_ssize_t n = rows.shape[0]
        cdef Py_ssize_t first = 1 if self.has_tail else 0
        cdef Py_ssize_t total = n + first
        cdef Py_ssize_t j = 0  # the row at or before the sub-point (numpy's binary search, walked forward)
        cdef Py_ssize_t out_i = 0
        cdef long long k
        cdef int c
        cdef double g, t_j, t_next, value, scaled
        for k in range(self.next_k, last_k + 1):
            g = (<double>k - self.offset) * self.step
            while j + 1 < total and self._t(rows, first, j + 1) <= g:
                j += 1
            t_j = self._t(rows, first, j)
            for c in range(3):
                if g < t_j or j == total - 1 or t_j == g:  # before the first row, at or after the last, on a row
                    value = self._v(rows, first, j, c)
                else:
                    t_next = self._t(rows, first, j + 1)
                    value = ((self._v(rows, first, j + 1, c) - self._v(rows, first, j, c)) / (t_next - t_j)
                             * (g - t_j) + self._v(rows, first, j, c))
                self.box[c] = value if self.in_box == 0 else self.box[c] + value
            self.in_box += 1
            if self.in_box == self.oversample:
                for c in range(3):
                    scaled = rint(self.box[c] / <double>self.oversample * self.counts_per_g)
                    counts[out_i, c] = <short>(-32768.0 if scaled < -32768.0 else (32767.0 if scaled > 32767.0
                                                                                  else scaled))
                out_i += 1
                self.in_box = 0
        if last_k >= self.next_k:
            self.next_k = last_k + 1
        for c in range(4):
            self.tail[c] = rows[n - 1, c]
        self.has_tail = True

    cdef inline double _t(self, const double[:, :] rows, Py_ssize_t first, Py_ssize_t r) noexcept nogil:
        return self.tail[0] if r < first else rows[r - first, 0]

    cdef inline double _v(self, const double[:, :] rows, Py_ssize_t first, Py_ssize_t r, int c) noexcept nogil:
        return self.tail[c + 1] if r < first else rows[r - first, c + 1]
