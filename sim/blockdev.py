"""RAM NOR-flash block device for os.VfsLfs2 (MicroPython's extended block protocol), with erase
counting and power cuts at any read, program or erase. Runs under MicroPython and CPython; never
touches the host filesystem except in save()/load()."""

_IOCTL_INIT = 1
_IOCTL_DEINIT = 2
_IOCTL_SYNC = 3
_IOCTL_BLOCK_COUNT = 4
_IOCTL_BLOCK_SIZE = 5
_IOCTL_BLOCK_ERASE = 6


_afterlife = {}  # image bytes -> the copy every dead RamFlash of that size works on (see _die)


class PowerCut(Exception):
    """Raised by the operation at which the power was cut; the device keeps what flash would keep."""


class RamFlash:
    """block_size x block_count bytes of NOR flash: erase sets a block to 0xFF, program can only
    clear bits (new = old & data), as on the nRF52840's internal flash."""

    def __init__(self, block_size=4096, block_count=32):
        self.block_size = block_size
        self.block_count = block_count
        self.image = bytearray(b"\xff" * (block_size * block_count))
        self.erases_per_block = [0] * block_count
        self.operations = 0  # reads + programs + erases since the counter was last reset
        self.cut_at_operation = 0  # 0: never; n: the n-th operation from now loses power
        self.operation_log = None  # a bytearray to get b"r", b"p" or b"e" appended per operation
        self._flash_image = None  # after a cut: the flash as the power left it

    def power_cycle(self):
        """The same flash powered up again, for a fresh mount. After a cut this object works on a
        copy, so a filesystem object still holding it (a file finaliser run by the garbage
        collector, say) can neither touch the flash nor fail noisily."""
        flash = RamFlash(self.block_size, 0)
        flash.block_count = self.block_count
        if self._flash_image is None:
            flash.image, flash.erases_per_block = self.image, self.erases_per_block
        else:
            flash.image, flash.erases_per_block = self._flash_image, self._flash_erases
        return flash

    def _die(self):
        """Keep the flash as the cut left it for power_cycle(), and go on over a copy: littlefs
        still works on this device while the PowerCut unwinds (a `with` block closes its file) and
        must neither change the flash nor fail, or its error would replace the PowerCut. All dead
        devices share one copy: a fresh 128 KB at every cut fragments MicroPython's heap until a
        3-day sweep cannot allocate one."""
        self._flash_image, self._flash_erases = self.image, self.erases_per_block
        copy = _afterlife.get(len(self.image))
        if copy is None:
            copy = _afterlife[len(self.image)] = bytearray(len(self.image))
        copy[:] = self.image
        self.image = copy
        self.erases_per_block = list(self.erases_per_block)

    def cut_power_at(self, operation_index):
        """Arm a power cut at the operation_index-th (1-based) read, program or erase from now."""
        self.operations = 0
        self.cut_at_operation = operation_index

    def _next_operation(self, kind):
        """True if the power goes at this operation; from then on the device is dead."""
        self.operations += 1
        if self.operation_log is not None:
            self.operation_log.append(kind)
        if self.cut_at_operation and self.operations == self.cut_at_operation:
            self.cut_at_operation = 0
            return True
        return False

    def erase_count(self):
        return sum(self.erases_per_block)

    def readblocks(self, block, buf, offset=0):
        start = block * self.block_size + offset
        if self._next_operation(0x72):
            self._die()
            raise PowerCut("read block %d" % block)
        if self._flash_image is None:
            buf[:] = memoryview(self.image)[start:start + len(buf)]
        else:
            self._copy_out(start, buf)

    def _copy_out(self, start, buf):
        """Byte by byte: only a file finaliser reads a dead device, and it may run with the heap
        locked. (Kept out of readblocks: a loop there makes every call ~10x slower on the unix
        port, and littlefs reads ~150,000 times a simulated day.)"""
        image = self.image
        for i in range(len(buf)):
            buf[i] = image[start + i]

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # simple protocol: whole blocks, erase first
            for i in range(len(buf) // self.block_size):
                self._erase(block + i)
            offset = 0
        start = block * self.block_size + offset
        count = len(buf)
        if self._next_operation(0x70):
            # A program cut mid-way leaves a prefix of the bytes programmed and the rest as they were.
            count //= 2
            self._program(start, buf, count)
            self._die()
            raise PowerCut("program block %d offset %d" % (block, offset))
        self._program(start, buf, count)

    def _program(self, start, buf, count):
        image = self.image
        for i in range(count):
            image[start + i] &= buf[i]

    def _erase(self, block):
        start = block * self.block_size
        if self._next_operation(0x65):
            # An erase cut mid-way leaves the first half erased and the second half unchanged.
            self._fill_erased(start, self.block_size // 2)
            self.erases_per_block[block] += 1
            self._die()
            raise PowerCut("erase block %d" % block)
        self._fill_erased(start, self.block_size)
        self.erases_per_block[block] += 1

    def _fill_erased(self, start, count):
        image = self.image
        for i in range(start, start + count):
            image[i] = 0xFF

    def ioctl(self, op, arg):
        if op == _IOCTL_BLOCK_COUNT:
            return self.block_count
        if op == _IOCTL_BLOCK_SIZE:
            return self.block_size
        if op == _IOCTL_BLOCK_ERASE:
            self._erase(arg)
            return 0
        if op == _IOCTL_INIT or op == _IOCTL_DEINIT or op == _IOCTL_SYNC:
            return 0  # no tuple here: a file finaliser may call this with the heap locked
        return None

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.image)

    @classmethod
    def over(cls, memory, block_size=4096):
        """A flash whose image is `memory`, RAM that outlives the interpreter as a board's flash does (the
        emulated board's, sim/arm_board.py)."""
        flash = cls(block_size, 0)
        flash.block_count = len(memory) // block_size
        flash.image = memory
        flash.erases_per_block = [0] * flash.block_count
        return flash

    @classmethod
    def load(cls, path, block_size=4096):
        with open(path, "rb") as f:
            image = f.read()
        flash = cls(block_size, len(image) // block_size)
        flash.image[:] = image
        return flash
