"""The board's USB serial (sys.stdin / sys.stdout) as the link's byte port: read_into(buf) -> n without
blocking, write(data). Works on a board, on the MicroPython unix port (stdin and stdout piped) and on
CPython. Never blocks on input, never reads ahead of what poll() says is waiting, never allocates
while reading."""
import select
import sys


class StdioPort:
    def __init__(self, stdin=None, stdout=None):
        stdin = stdin or sys.stdin
        stdout = stdout or sys.stdout
        reader = getattr(stdin, "buffer", stdin)
        self._reader = getattr(reader, "raw", reader)  # CPython's buffered reader would read ahead of poll
        self._writer = getattr(stdout, "buffer", stdout)
        self._flush = getattr(self._writer, "flush", None)
        self._poller = select.poll()
        self._poller.register(stdin, select.POLLIN)
        self._poll = getattr(self._poller, "ipoll", self._poller.poll)  # MicroPython's ipoll allocates nothing
        self._readable()  # after its first call, which allocates the tuple it then reuses
        self._byte = bytearray(1)

    def _readable(self):
        for entry in self._poll(0):
            return entry[1] & select.POLLIN
        return 0

    def read_into(self, buf):
        """Copy the bytes waiting on stdin into buf, up to len(buf); 0 when none wait (or at end of
        input, which a board never reaches)."""
        n = 0
        while n < len(buf) and self._readable():
            # The stubs type sys.stdin as text; on a board it reads bytes into a buffer.
            if not self._reader.readinto(self._byte):  # pyright: ignore[reportAttributeAccessIssue]
                break
            buf[n] = self._byte[0]
            n += 1
        return n

    def write(self, data):
        self._writer.write(data)
        if self._flush:
            self._flush()
