"""Reading every queued packet of a raw socket in one system call: recvmmsg(2) (issue 16).

A backup's VRRP socket wakes up with a few adverts queued (a master sends the adverts due
together). recvmsg reads one per call and one more to learn the queue is empty (EAGAIN, an
exception in Python); `BatchReader.read()` reads up to VLEN of them with one
recvmmsg(MSG_DONTWAIT) into buffers allocated once (without the source address for IPv4,
whose raw socket's packets carry their IP header) and without an exception when none is
queued.

Layout: VLEN message headers (struct mmsghdr, laid out by ctypes), each with one iovec on
its own `size`-byte slot of `buf` (SIZE for IPv4, SIZE6 for IPv6) and `control` bytes of
ancillary space (CONTROL for IPv4: SO_RXQ_OVFL, the kernel's drop counter, transport.py;
CONTROL6 for IPv6: the drop counter, IPV6_PKTINFO and IPV6_HOPLIMIT). An IPv6 raw socket's
packets carry no IP header: the reader then also asks for each source address (`name`:
NAME6 bytes of struct sockaddr_in6 a message, in `names`). After a read, message i's
`meta(i)` gives (control bytes used, flags, length), its bytes are `buf[i * size:]`, its
ancillary bytes `ctl[i * control:]` and items `ancillary(i, used)` in recvmsg's form. The
headers are restored from a pristine copy before each call (the kernel overwrites the
control and name lengths).

A packet longer than its slot (no VRRP packet is: IPv4, 60 + 8 + 255 * 4 + 8 bytes at most;
IPv6, 8 + 255 * 16) comes with MSG_TRUNC and its full length (the call passes MSG_TRUNC, as
keepalived does);
`packet(i)` then pads it with zeros to that length, so the checks that reject it see the
length recvmsg would have read and count it in the same counter (they all stop at its
first bytes or at its length, before any checksum).

`open()` returns None where recvmmsg or ctypes is unavailable: the caller keeps recvmsg.
"""
from __future__ import annotations

import ctypes
import errno
import socket
import struct
from typing import Any

VLEN = 32                   # messages per call
SIZE = 2048                 # bytes per message slot (IPv4)
SIZE6 = 4096                # (IPv6: 255 addresses of 16 bytes)
CONTROL = 64                # ancillary bytes per message (IPv4: the drop counter)
CONTROL6 = 128              # IPv6: the drop counter (24), pktinfo (40), hop limit (24)
NAME6 = 28                  # struct sockaddr_in6
MSG_DONTWAIT, MSG_TRUNC, MSG_CTRUNC = 0x40, 0x20, 0x08


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):              # glibc's struct msghdr
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.c_void_p), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
                ("msg_flags", ctypes.c_int)]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint)]


_STRIDE = ctypes.sizeof(_MMsgHdr)
_META_OFF = _MsgHdr.msg_controllen.offset
_SIZE_T = "Q" if ctypes.sizeof(ctypes.c_size_t) == 8 else "I"
_GAP = _MMsgHdr.msg_len.offset - _MsgHdr.msg_flags.offset - ctypes.sizeof(ctypes.c_int)
# (control bytes used, flags, length) of one message, read in one unpack
_META = struct.Struct(f"@{_SIZE_T}i{_GAP}xI") if (
    _MsgHdr.msg_flags.offset == _META_OFF + ctypes.sizeof(ctypes.c_size_t) and _GAP >= 0) \
    else None
_CMSG_HDR = struct.Struct(f"@{_SIZE_T}ii")            # struct cmsghdr: len, level, type
_ALIGN = ctypes.sizeof(ctypes.c_size_t)


def _cmsg_align(n: int) -> int:
    return (n + _ALIGN - 1) & ~(_ALIGN - 1)


_libc: Any = None


def _recvmmsg() -> Any:
    """recvmmsg from libc, called without releasing the GIL (PyDLL): the call never blocks
    (MSG_DONTWAIT), and a release and re-acquire would cost more than the call."""
    global _libc
    if _libc is None:
        _libc = ctypes.PyDLL(None, use_errno=True)
    fn = _libc.recvmmsg
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    return fn


class BatchReader:
    """recvmmsg on one socket (see the module docstring)."""

    __slots__ = ("fd", "size", "buf", "view", "hdr", "meta", "control", "ctl", "names",
                 "_pristine",
                 "_hdrs", "_iov", "_ctl", "_names", "_call", "_addr", "_bufobj")

    def __init__(self, sock: socket.socket, control: int = CONTROL, name: int = 0,
                 size: int = SIZE) -> None:
        self.fd = sock.fileno()
        self.size = size
        self.control = control
        self.buf = bytearray(VLEN * size)
        self.view = memoryview(self.buf)
        self._bufobj = (ctypes.c_char * len(self.buf)).from_buffer(self.buf)
        base = ctypes.addressof(self._bufobj)
        self._ctl = ctypes.create_string_buffer(VLEN * control)
        self.ctl = memoryview(self._ctl).cast("B")
        ctl = ctypes.addressof(self._ctl)
        self._names = ctypes.create_string_buffer(VLEN * max(name, 1))
        self.names = memoryview(self._names).cast("B")
        names = ctypes.addressof(self._names)
        self._iov = (_IoVec * VLEN)()
        self._hdrs = (_MMsgHdr * VLEN)()
        for i in range(VLEN):
            self._iov[i].iov_base = base + i * size
            self._iov[i].iov_len = size
            h = self._hdrs[i].msg_hdr
            h.msg_iov = ctypes.addressof(self._iov[i])
            h.msg_iovlen = 1
            h.msg_control = ctl + i * control
            h.msg_controllen = control
            if name:
                h.msg_name = names + i * name
                h.msg_namelen = name
        self.hdr = memoryview(self._hdrs).cast("B")
        self._pristine = bytes(self.hdr)
        self._addr = ctypes.addressof(self._hdrs)
        self._call = _recvmmsg()
        assert _META is not None
        self.meta = _META.unpack_from           # meta(hdr, i * STRIDE + META_OFF)

    @classmethod
    def open(cls, sock: socket.socket, control: int = CONTROL, name: int = 0,
             size: int = SIZE) -> BatchReader | None:
        if _META is None:
            return None
        try:
            return cls(sock, control, name, size)
        except (AttributeError, OSError, ValueError, TypeError):
            return None                         # no recvmmsg in this libc

    def read(self) -> int:
        """Read the queued packets (VLEN at most): how many; 0 when none is queued or on an
        error (a raw socket's errors are transient: the next wake-up reads again)."""
        self.hdr[:] = self._pristine
        call, fd, addr = self._call, self.fd, self._addr
        while True:
            n: int = call(fd, addr, VLEN, MSG_DONTWAIT | MSG_TRUNC, None)
            if n >= 0:
                return n
            if ctypes.get_errno() != errno.EINTR:
                return 0

    def packet(self, i: int, length: int) -> bytes:
        """Message i's bytes, a truncated one padded with zeros to its real length."""
        size = self.size
        base = i * size
        if length <= size:
            return bytes(self.view[base:base + length])
        return bytes(self.view[base:base + size]) + bytes(length - size)

    def ancillary(self, i: int, used: int) -> list[tuple[int, int, bytes]]:
        """Message i's ancillary items as recvmsg returns them: (level, type, data)."""
        out = []
        c = self.control
        view, off, end = self.ctl, i * c, i * c + min(used, c)
        hdr = _cmsg_align(_CMSG_HDR.size)
        while off + _CMSG_HDR.size <= end:
            clen, level, kind = _CMSG_HDR.unpack_from(view, off)
            if clen < _CMSG_HDR.size or off + clen > end:
                break
            out.append((level, kind, bytes(view[off + hdr:off + clen])))
            off += _cmsg_align(clen)
        return out


STRIDE = _STRIDE
META_OFF = _META_OFF
