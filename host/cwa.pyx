"""The per-sample loop of the .cwa reader (formats.py), in C: a run of checked blocks of one layout unpacked into
rows of absolute time and x, y, z in g. formats.py reads, checks and times the blocks; this only unpacks them."""
import numpy as np

cdef enum:
    DATA_OFFSET = 30  # a .cwa block's sample bytes start here
    DATA_BYTES = 480


def block_rows(const unsigned char[:, ::1] blocks, const double[::1] start_s, const double[::1] spacing_s,
               const int[::1] count, const double[::1] counts_per_g, int axes, bint packed):
    """float64 (n, 4) rows of t (s since 1970), x, y, z (g) of every block's first count[b] samples: sample i of
    block b at start_s[b] + i * spacing_s[b]. `packed`: 10-bit x, y, z and a shared 2-bit exponent in 4 bytes, in
    1/256 g; else `axes` int16 per sample, the accelerometer last, in 1/counts_per_g[b] g."""
    cdef Py_ssize_t n_blocks = blocks.shape[0]
    if blocks.shape[1] < DATA_OFFSET + DATA_BYTES or not packed and axes < 3:
        raise ValueError(f"not .cwa sample blocks: {blocks.shape[1]} bytes a block, {axes} axes")
    if not n_blocks == start_s.shape[0] == spacing_s.shape[0] == count.shape[0] == counts_per_g.shape[0]:
        raise ValueError("one start, spacing, count and scale a block")
    cdef int per_block = DATA_BYTES // 4 if packed else DATA_BYTES // (2 * axes)
    cdef Py_ssize_t total = 0
    cdef Py_ssize_t b
    for b in range(n_blocks):
        total += min(count[b], per_block)
    out = np.empty((total, 4))
    cdef double[:, ::1] rows = out
    with nogil:
        _unpack(blocks, start_s, spacing_s, count, counts_per_g, axes, packed, per_block, rows)
    return out


cdef void _unpack(const unsigned char[:, ::1] blocks, const double[::1] start_s, const double[::1] spacing_s,
                  const int[::1] count, const double[::1] counts_per_g, int axes, bint packed, int per_block,
                  double[:, ::1] rows) noexcept nogil:
    cdef Py_ssize_t b, r = 0
    cdef int i, c, n, at, shift
    cdef unsigned int word
    cdef int value
    for b in range(blocks.shape[0]):
        n = min(count[b], per_block)
        for i in range(n):
            rows[r, 0] = start_s[b] + <double>i * spacing_s[b]
            if packed:
                at = DATA_OFFSET + 4 * i
                word = (blocks[b, at] | (blocks[b, at + 1] << 8) | (blocks[b, at + 2] << 16)
                        | (<unsigned int>blocks[b, at + 3] << 24))
                shift = (word >> 30) & 3
                for c in range(3):
                    value = <int>(((word >> (10 * c)) & 0x3FF) ^ 0x200) - 0x200
                    rows[r, c + 1] = <double>(value * (1 << shift)) / 256.0
            else:
                for c in range(3):
                    at = DATA_OFFSET + 2 * (i * axes + axes - 3 + c)
                    value = <short>(blocks[b, at] | (blocks[b, at + 1] << 8))
                    rows[r, c + 1] = <double>value / counts_per_g[b]
            r += 1
