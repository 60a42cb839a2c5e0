"""Reading an executor log stream: the fd GetLogStream hands out.

Reads are driven by select() with a deadline (never a sleep). "framed"
streams are demultiplexed as Docker does it: an 8-byte header (stream byte
1 = stdout, 2 = stderr, three zero bytes, a big-endian 32-bit length) then
the payload; headers may be split across reads. "plain" streams are kept as
one merged byte string.
"""
import os
import select
import struct
import time


class FramingError(AssertionError):
    pass


class LogStream:
    def __init__(self, fd, framed=True):
        self.fd = fd
        self.framed = framed
        self.eof = False
        self.raw = bytearray()      # everything read, undecoded
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.frames = []            # (stream, payload) in order, framed only
        self._pending = bytearray()
        self.eof_at = None
        os.set_blocking(fd, False)

    # --- decoding ---------------------------------------------------------

    def _feed(self, data):
        self.raw += data
        if not self.framed:
            self.stdout += data
            return
        self._pending += data
        while len(self._pending) >= 8:
            stream, z1, z2, z3, size = struct.unpack(">BBBBI", self._pending[:8])
            if stream not in (0, 1, 2) or (z1, z2, z3) != (0, 0, 0):
                raise FramingError("bad frame header %r at byte %d of the stream"
                                   % (bytes(self._pending[:8]), len(self.raw) - len(self._pending)))
            if len(self._pending) < 8 + size:
                break
            payload = bytes(self._pending[8:8 + size])
            del self._pending[:8 + size]
            self.frames.append((stream, payload))
            if stream == 2:
                self.stderr += payload
            else:
                self.stdout += payload

    # --- reading ----------------------------------------------------------

    def read_available(self, wait_seconds):
        """Reads what arrives within wait_seconds (0: only what is there).
        Returns the number of bytes read; sets eof at end of stream."""
        if self.eof:
            return 0
        ready, _, _ = select.select([self.fd], [], [], max(0.0, wait_seconds))
        if not ready:
            return 0
        total = 0
        while True:
            try:
                data = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                return total
            if not data:
                self.eof = True
                self.eof_at = time.monotonic()
                if self.framed and self._pending:
                    raise FramingError("stream ended inside a frame: %d bytes left over"
                                       % len(self._pending))
                return total
            total += len(data)
            self._feed(data)

    def read_until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.eof:
                raise AssertionError("log stream ended before %s; got stdout %r, stderr %r"
                                     % (what, _short(self.stdout), _short(self.stderr)))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("timed out after %.1fs waiting for %s; got stdout %r, "
                                     "stderr %r" % (timeout, what, _short(self.stdout),
                                                    _short(self.stderr)))
            self.read_available(min(remaining, 1.0))

    def read_to_eof(self, timeout):
        self.read_until(lambda: self.eof, timeout, "the end of the stream")

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _short(data, limit=400):
    data = bytes(data)
    if len(data) <= limit:
        return data
    return data[:limit // 2] + b"..." + data[-limit // 2:]
