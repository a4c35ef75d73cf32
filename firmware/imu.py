"""What every IMU driver shares: one-byte register access, the chip-id check, picking rate and
full-scale codes, the default watermark, burst views and FIFO words into int16 samples.

Knows no particular chip: register addresses, tables and byte orders stay in imu_<chip>.py.
Nothing here allocates once a driver's __init__ has returned.
"""

from .compat import const, ptr8, ptr16

try:
    import micropython
except ImportError:
    from . import compat as micropython

_ENODEV = const(19)  # errno a MicroPython port raises when no device acknowledges its address
_ETIMEDOUT = const(110)
_RESET_POLLS = const(100)
_WATERMARK_DEFAULT_MS = const(1500)


class ByteRegisters:
    """The driver's bus, address and a one-byte buffer, so that register reads never allocate."""

    def __init__(self, i2c, address):
        self._i2c = i2c
        self._address = address
        self._reg = bytearray(1)

    def _read_u8(self, reg):
        self._i2c.readfrom_mem_into(self._address, reg, self._reg)
        return self._reg[0]

    def _write_u8(self, reg, value):
        self._reg[0] = value
        self._i2c.writeto_mem(self._address, reg, self._reg)


def check_chip_id(chip, registers, id_reg, id_name, expected, address_pin):
    """Raise unless `registers` answers on the bus and its id register `id_reg` reads `expected`.

    `chip` names the part in messages; `address_pin` is the pin that selects its I2C address.
    """
    address = registers._address
    try:
        found = registers._read_u8(id_reg)
    except OSError as e:
        raise OSError(e.args[0] if e.args else _ENODEV,
                      "%s: no answer at I2C address 0x%02x; check wiring, power and %s" % (chip, address, address_pin))
    if found != expected:
        raise ValueError("%s: %s at I2C 0x%02x reads 0x%02x, expected 0x%02x; wrong chip or address"
                         % (chip, id_name, address, found, expected))


def soft_reset(chip, registers, reg, command, busy_bit, bit_name):
    """Write `command` to `reg`, then wait for the chip to clear `busy_bit` there."""
    registers._write_u8(reg, command)
    for _ in range(_RESET_POLLS):
        if not registers._read_u8(reg) & busy_bit:
            return
    raise OSError(_ETIMEDOUT, "%s: %s did not complete after %d polls; power-cycle the sensor"
                  % (chip, bit_name, _RESET_POLLS))


def check_rate(chip, rate_mhz, fastest_mhz):
    if not 0 < rate_mhz <= fastest_mhz:
        raise ValueError("%s: rate_mhz=%d outside 1..%d" % (chip, rate_mhz, fastest_mhz))


def rate_index(chip, rates_mhz, rate_mhz):
    """Index in `rates_mhz` (ascending) of the slowest rate at least `rate_mhz`."""
    check_rate(chip, rate_mhz, rates_mhz[-1])
    i = 0
    while rates_mhz[i] < rate_mhz:
        i += 1
    return i


def full_scale_code(chip, codes_by_counts_per_g, counts_per_g):
    code = codes_by_counts_per_g.get(counts_per_g)
    if code is None:
        choices = ", ".join("%d" % c for c in sorted(codes_by_counts_per_g, reverse=True))
        raise ValueError("%s: counts_per_g=%d; choose one of %s" % (chip, counts_per_g, choices))
    return code


def watermark_samples_for(rate_mhz, watermark_samples, most):
    """`watermark_samples`, or 1.5 s of samples when None, clamped to 1..most (what the FIFO holds)."""
    if watermark_samples is None:
        watermark_samples = rate_mhz * _WATERMARK_DEFAULT_MS // 1000000
    return max(1, min(watermark_samples, most))


def burst_views(scratch, item_bytes, most_items):
    """Views of `scratch` holding 0..most_items items, made once so that reads never slice (slicing allocates)."""
    whole = memoryview(scratch)
    return [whole[: item_bytes * n] for n in range(most_items + 1)]


@micropython.viper
def frames_into(buf, j: int, scratch, at: int, frames: int, stride: int, big_endian: int):
    """Copy `frames` FIFO frames, `stride` bytes apart from byte `at` of scratch, each x, y, z as 16-bit
    words, into buf[j:j + 3 * frames] (an int16 array). Viper: a 16-bit store keeps the word's two's
    complement bits, so nothing is decoded; called once per burst or frame, not per value."""
    if j < 0 or at < 0 or frames < 0 or j + 3 * frames > int(len(buf)) \
            or (frames > 0 and at + stride * (frames - 1) + 6 > int(len(scratch))):
        raise IndexError("frames_into: outside buf or scratch")
    out = ptr16(buf)
    src = ptr8(scratch)
    for f in range(frames):
        k = at + f * stride
        for w in range(3):
            if big_endian:
                out[j] = src[k] << 8 | src[k + 1]
            else:
                out[j] = src[k] | src[k + 1] << 8
            k += 2
            j += 1
