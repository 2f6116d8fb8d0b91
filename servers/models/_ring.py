"""io_uring plumbing for the ``iouring`` model: a ring, its completions, a provided-buffer ring.

A request is *prepared* by writing a submission queue entry (SQE) into memory
shared with the kernel; nothing reaches the kernel until
:meth:`Ring.submit_and_wait`, which hands over every entry prepared since the
last call and waits for at least one completion in a single ``io_uring_enter``
system call. Each completion (CQE) carries back the 64-bit ``tag`` its request
was prepared with, its result (a byte count, a descriptor, or ``-errno``) and
flags (``F_MORE``: a multishot request is still armed; the buffer id of a
provided buffer).

Built on the ``liburing`` package (Python bindings to liburing), which sets
the ring up, prepares the requests and submits them. Two things are done
beside it, through :mod:`mmap` and :mod:`ctypes`:

* completions are read straight from the completion queue, the array of
  ``(tag, result, flags)`` entries the kernel writes in memory it shares with
  us (:class:`CompletionQueue`): a plain copy, where the binding would make
  an object and three calls per entry, and raise for a negative result;
* the provided-buffer ring is registered with one raw ``io_uring_register``
  call (the binding's ``io_uring_setup_buf_ring`` takes an ``int *`` it cannot
  convert).

liburing's ``io_uring_submit_and_wait`` keeps the GIL while it waits in the
kernel: no other Python thread runs meanwhile, which a one-thread server
never needs.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct
import sys
from collections.abc import Callable
from typing import Any

#: The multishot request that produced this completion is still armed.
F_MORE = 2
#: A completion's buffer id sits above this bit (IORING_CQE_BUFFER_SHIFT).
BUFFER_SHIFT = 16
#: Ring flags the model needs: one thread submits, and completions are run only when it
#: enters the kernel to wait (Linux 6.1), so they arrive in batches and never interrupt it.
SETUP_FLAGS_NAMES = ("IORING_SETUP_SINGLE_ISSUER", "IORING_SETUP_DEFER_TASKRUN")

_SYS_IO_URING_SETUP = 425  # io_uring's system calls have the same numbers on every architecture
_SYS_IO_URING_REGISTER = 427  # (but alpha)
_OFF_CQ_RING = 0x8000000  # IORING_OFF_CQ_RING: where mmap finds the completion queue
_CQE = struct.Struct("=QiI")  # struct io_uring_cqe: user_data, res, flags
_U32 = struct.Struct("=I")
_REGISTER_PBUF_RING = 22
_BUF_ENTRY = struct.Struct("QIH")  # struct io_uring_buf without the field the tail overlays
_TAIL = struct.Struct("H")
_TAIL_OFFSET = 14


def unavailable_reason() -> str | None:
    """Why io_uring cannot serve here (one line), or None when it can: probed with a small ring."""
    if not sys.platform.startswith("linux"):
        return f"io_uring is a Linux interface; this is {sys.platform}"
    try:
        import liburing
    except ImportError as exc:
        return f"the liburing package is not installed ({exc}); pip install liburing"
    ring = liburing.Ring()
    try:
        liburing.io_uring_queue_init(4, ring, _setup_flags(liburing))
    except OSError as exc:
        return _explain(exc)
    liburing.io_uring_queue_exit(ring)
    return None


def _setup_flags(liburing: Any) -> int:
    flags = 0
    for name in SETUP_FLAGS_NAMES:
        flags |= getattr(liburing, name)
    return flags


def _explain(exc: OSError) -> str:
    if exc.errno == errno.ENOSYS:
        return "this kernel has no io_uring (io_uring_setup: ENOSYS)"
    if exc.errno == errno.EPERM:
        try:
            with open("/proc/sys/kernel/io_uring_disabled") as f:
                disabled = f.read().strip()
        except OSError:
            disabled = "0"
        if disabled != "0":
            return f"io_uring is disabled here (sysctl kernel.io_uring_disabled = {disabled})"
        return "io_uring is refused here (a seccomp filter, or kernel.io_uring_group)"
    if exc.errno == errno.EINVAL:
        return f"this kernel's io_uring is older than Linux 6.1 (no {SETUP_FLAGS_NAMES[1]}); it is {os.uname().release}"
    return f"io_uring_setup failed: {exc.strerror or exc}"


class Ring:
    """One io_uring instance: prepare requests (each with a ``tag``), then submit and collect.

    Objects the kernel reads only while a request is submitted (a timeout's
    ``timespec``) are kept until the next submit; a send's bytes and a read's
    buffer must be kept by the caller until the request completes.
    """

    def __init__(self, entries: int) -> None:
        import liburing

        self._lib = lib = liburing
        self._ring = lib.Ring()
        lib.io_uring_queue_init(entries, self._ring, _setup_flags(lib))
        self.completions = CompletionQueue(self._ring.ring_fd, _setup_flags(lib))
        self._keep: list[Any] = []
        self._before_submit: list[Callable[[], None]] = []
        self.fd = self._ring.ring_fd
        try:  # io_uring_enter then names the ring by its registered index: no descriptor lookup
            lib.io_uring_register_ring_fd(self._ring)
        except OSError:
            pass
        # Bound once: these run once per request on the hot path.
        self._get_sqe = lib.io_uring_get_sqe
        self._set_tag = lib.io_uring_sqe_set_data64
        self._prep_send = lib.io_uring_prep_send

    def _sqe(self) -> Any:
        """A free submission entry; when the queue is full, what is queued goes to the kernel first."""
        sqe = self._get_sqe(self._ring)
        if sqe is None:
            for prepare in self._before_submit:
                prepare()
            self._lib.io_uring_submit(self._ring)
            self._keep.clear()
            sqe = self._get_sqe(self._ring)
        return sqe

    def before_submit(self, prepare: Callable[[], None]) -> None:
        """Call ``prepare()`` before every submission (a buffer ring publishes its returned buffers)."""
        self._before_submit.append(prepare)

    # -- requests ------------------------------------------------------------------
    def accept_multishot(self, fd: int, tag: int) -> None:
        """Accept on listening ``fd`` until cancelled or failed: a completion per connection."""
        sqe = self._sqe()
        self._lib.io_uring_prep_multishot_accept(sqe, fd)
        self._set_tag(sqe, tag)

    def recv_multishot(self, fd: int, group: int, tag: int) -> None:
        """Receive on ``fd`` until cancelled, EOF or error, each time into a buffer of ``group``."""
        lib = self._lib
        sqe = self._sqe()
        lib.io_uring_prep_recv_multishot(sqe, fd, None, 0)
        lib.io_uring_sqe_set_flags(sqe, lib.IOSQE_BUFFER_SELECT)
        lib.io_uring_sqe_set_buf_group(sqe, group)
        self._set_tag(sqe, tag)

    def recv(self, fd: int, buffer: bytearray, tag: int) -> None:
        """Receive once on ``fd`` into ``buffer`` (keep it until the completion)."""
        sqe = self._sqe()
        self._lib.io_uring_prep_recv(sqe, fd, buffer)
        self._set_tag(sqe, tag)

    def read(self, fd: int, buffer: bytearray, tag: int) -> None:
        """Read once from ``fd`` (a pipe) into ``buffer`` (keep it until the completion)."""
        sqe = self._sqe()
        self._lib.io_uring_prep_read(sqe, fd, buffer)
        self._set_tag(sqe, tag)

    def connect(self, fd: int, address: Any, tag: int) -> None:
        """Connect ``fd`` to ``address`` (a ``liburing.Sockaddr``: keep it until the completion)."""
        sqe = self._sqe()
        self._lib.io_uring_prep_connect(sqe, fd, address)
        self._set_tag(sqe, tag)

    def send(self, fd: int, data: bytes, tag: int) -> None:
        """Send ``data`` on ``fd`` (keep it until the completion, which may say: only part of it)."""
        sqe = self._get_sqe(self._ring) or self._sqe()
        self._prep_send(sqe, fd, data)
        self._set_tag(sqe, tag)

    def timeout(self, seconds: float, tag: int) -> None:
        """Complete (with ``-ETIME``) after ``seconds``."""
        lib = self._lib
        spec = lib.timespec(seconds)
        self._keep.append(spec)
        sqe = self._sqe()
        lib.io_uring_prep_timeout(sqe, spec, 0, 0)
        self._set_tag(sqe, tag)

    def remove_timeout(self, target: int) -> None:
        """Cancel the timeout tagged ``target`` (it completes with ``-ECANCELED``); no completion of its own."""
        lib = self._lib
        sqe = self._sqe()
        lib.io_uring_prep_timeout_remove(sqe, target, 0)
        lib.io_uring_sqe_set_flags(sqe, lib.IOSQE_CQE_SKIP_SUCCESS)
        self._set_tag(sqe, 0)

    def cancel(self, target: int) -> None:
        """Cancel the request tagged ``target`` (it completes with ``-ECANCELED``); no completion of its own."""
        lib = self._lib
        sqe = self._sqe()
        lib.io_uring_prep_cancel64(sqe, target, 0)
        lib.io_uring_sqe_set_flags(sqe, lib.IOSQE_CQE_SKIP_SUCCESS)
        self._set_tag(sqe, 0)

    def cancel_fd(self, fd: int) -> None:
        """Cancel every request on ``fd``; no completion of its own."""
        lib = self._lib
        sqe = self._sqe()
        lib.io_uring_prep_cancel_fd(sqe, fd, lib.IORING_ASYNC_CANCEL_ALL)
        lib.io_uring_sqe_set_flags(sqe, lib.IOSQE_CQE_SKIP_SUCCESS)
        self._set_tag(sqe, 0)

    def shutdown(self, fd: int, how: int, tag: int) -> None:
        """``shutdown(fd, how)``: the kernel runs it in an io-wq thread, where ``fd`` is looked up."""
        sqe = self._sqe()
        self._lib.io_uring_prep_shutdown(sqe, fd, how)
        self._set_tag(sqe, tag)

    def close(self, fd: int, tag: int) -> None:
        """Close descriptor ``fd``."""
        sqe = self._sqe()
        self._lib.io_uring_prep_close(sqe, fd)
        self._set_tag(sqe, tag)

    # -- submitting and collecting ------------------------------------------------
    def submit_and_wait(self) -> list[tuple[int, int, int]]:
        """Submit what is prepared, wait for a completion: one system call. Returns every completion.

        Each is ``(tag, result, flags)``, the result ``-errno`` on failure. A
        signal ends the wait early (the list may then be empty).
        """
        for prepare in self._before_submit:
            prepare()
        try:
            self._lib.io_uring_submit_and_wait(self._ring, 1)
        except InterruptedError:
            pass
        self._keep.clear()
        return self.completions.take()

    def close_ring(self) -> None:
        """Tear the ring down: the kernel cancels whatever is still in flight."""
        self._lib.io_uring_queue_exit(self._ring)


class BufferRing:
    """A provided-buffer ring: ``count`` buffers of ``size`` bytes that the kernel picks from.

    A receive prepared with the ring's group takes a buffer only when data
    arrives, so an idle connection holds none. The ring itself is an array of
    ``(address, length, buffer id)`` entries in memory shared with the kernel:
    the kernel consumes from its head; :meth:`take` copies a buffer's bytes out,
    and :meth:`publish` puts the buffers taken back behind the tail and moves
    it forward (the kernel sees them again) just before the next submission.

    Raises:
        OSError: the kernel refused the registration (older than 5.19, or
            locked-memory limits): receive into per-connection buffers instead.
    """

    def __init__(self, ring: Ring, group: int, count: int, size: int) -> None:
        if count & (count - 1) or not 0 < count <= 32768:
            raise ValueError(f"buffer count {count} must be a power of two up to 32768")
        self.group = group
        self.count = count
        self.size = size
        self._mask = count - 1
        self._entries = mmap.mmap(-1, max(count * 16, mmap.PAGESIZE))  # page-aligned, zeroed
        self.buffers = mmap.mmap(-1, count * size)
        self._base = ctypes.addressof(ctypes.c_char.from_buffer(self.buffers))
        entries_address = ctypes.addressof(ctypes.c_char.from_buffer(self._entries))
        registration = _BufferRegistration(entries_address, count, group, 0)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(
            _SYS_IO_URING_REGISTER, ring.fd, _REGISTER_PBUF_RING, ctypes.byref(registration), 1
        ):
            code = ctypes.get_errno()
            raise OSError(code, f"cannot register a provided-buffer ring: {os.strerror(code)}")
        for bid in range(count):
            _BUF_ENTRY.pack_into(self._entries, bid * 16, self._base + bid * size, size, bid)
        self._slots = list(range(count))  # the buffer id each entry of the ring holds now
        self._returned: list[int] = []  # buffer ids taken since the last publish
        self._tail = count
        _TAIL.pack_into(self._entries, _TAIL_OFFSET, count)
        ring.before_submit(self.publish)

    def take(self, bid: int, length: int) -> bytes:
        """The ``length`` bytes the kernel received into buffer ``bid``; the buffer goes back to the ring."""
        start = bid * self.size
        self._returned.append(bid)
        return self.buffers[start : start + length]

    def publish(self) -> None:
        """Put the buffers taken since the last time back in the ring: the kernel may use them again.

        The kernel consumes entries in order and they come back in the same
        order, so an entry usually still holds the very buffer that returns to
        it: only a different one is written.
        """
        returned = self._returned
        if not returned:
            return
        tail, mask, slots, size = self._tail, self._mask, self._slots, self.size
        for bid in returned:
            slot = tail & mask
            if slots[slot] != bid:
                _BUF_ENTRY.pack_into(self._entries, slot * 16, self._base + bid * size, size, bid)
                slots[slot] = bid
            tail = (tail + 1) & 0xFFFF
        returned.clear()
        self._tail = tail
        _TAIL.pack_into(self._entries, _TAIL_OFFSET, tail)


class _BufferRegistration(ctypes.Structure):
    """``struct io_uring_buf_reg``."""

    _fields_ = [
        ("ring_addr", ctypes.c_uint64),
        ("ring_entries", ctypes.c_uint32),
        ("bgid", ctypes.c_uint16),
        ("flags", ctypes.c_uint16),
        ("resv", ctypes.c_uint64 * 3),
    ]


class CompletionQueue:
    """The completion queue, read where the kernel writes it: a ring of 16-byte entries.

    The kernel appends entries and moves the tail; we copy out those between
    head and tail, then move the head (the space is the kernel's again). With
    ``IORING_SETUP_DEFER_TASKRUN`` the kernel writes them only while this very
    thread is inside ``io_uring_enter``, so once that call has returned they
    are complete. Where in the shared memory head, tail and entries lie is
    the kernel's to say (it changed across versions): it says so when a ring
    is set up, so a tiny ring is set up once to ask.
    """

    def __init__(self, ring_fd: int, flags: int) -> None:
        layout = _completion_layout(flags)
        self._head, self._tail, self._entries = layout.head, layout.tail, layout.cqes
        header = mmap.mmap(ring_fd, layout.cqes, offset=_OFF_CQ_RING)
        size = _U32.unpack_from(header, layout.ring_entries)[0]
        header.close()
        self._size = size
        self._mask = size - 1
        self._memory = mmap.mmap(ring_fd, layout.cqes + size * _CQE.size, offset=_OFF_CQ_RING)

    def take(self) -> list[tuple[int, int, int]]:
        """Every completion not yet taken, oldest first: ``(tag, result, flags)``."""
        memory = self._memory
        head = _U32.unpack_from(memory, self._head)[0]
        tail = _U32.unpack_from(memory, self._tail)[0]
        if head == tail:
            return []
        start = self._entries + (head & self._mask) * 16
        end = self._entries + (tail & self._mask) * 16
        if start < end:
            raw = memory[start:end]
        else:  # wrapped around the end of the ring (or the ring is full)
            raw = memory[start : self._entries + self._size * 16] + memory[self._entries : end]
        _U32.pack_into(memory, self._head, tail)
        return list(_CQE.iter_unpack(raw))


class _CompletionOffsets(ctypes.Structure):
    """``struct io_cqring_offsets``."""

    _fields_ = [
        (name, ctypes.c_uint32)
        for name in (
            "head",
            "tail",
            "ring_mask",
            "ring_entries",
            "overflow",
            "cqes",
            "flags",
            "resv1",
        )
    ] + [("user_addr", ctypes.c_uint64)]


class _Params(ctypes.Structure):
    """``struct io_uring_params`` (the submission queue's offsets left opaque)."""

    _fields_ = [
        ("sq_entries", ctypes.c_uint32),
        ("cq_entries", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("sq_thread_cpu", ctypes.c_uint32),
        ("sq_thread_idle", ctypes.c_uint32),
        ("features", ctypes.c_uint32),
        ("wq_fd", ctypes.c_uint32),
        ("resv", ctypes.c_uint32 * 3),
        ("sq_off", ctypes.c_uint8 * 40),
        ("cq_off", _CompletionOffsets),
    ]


def _completion_layout(flags: int) -> _CompletionOffsets:
    """Where this kernel puts a completion queue's head, tail and entries (asks with a tiny ring)."""
    params = _Params(flags=flags)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(_SYS_IO_URING_SETUP, 1, ctypes.byref(params))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"io_uring_setup: {os.strerror(code)}")
    os.close(fd)
    return params.cq_off
