"""Reading ahead: the files of the export are read on one helper thread and hashed
(SHA-256) on another while the request's thread computes the CRC and sends, so the work is
spread over the cores (os.read, socket reads, hashlib and CRC-32 release the GIL).

Issue 22: handing every chunk from one thread to another cost more than the work itself on
a busy machine (each hand-off wakes a thread). Here the reader publishes chunks in batches
of at least `BATCH_BYTES` to both the hasher and the request's thread; each only waits when
nothing is ready, and the reader only when `AHEAD_BYTES` wait for the sender or
`HASH_LAG_BYTES` for the hasher (it is woken again once half of them went). Every byte is
read once and never copied on the way.

The reader runs in a copy of the request's context (Flask's app and request contexts are
context variables), so connectors' messages are translated like the request's. One reader
per export, its files in the order they are written; closing it stops it after the chunk
it is reading and waits for it, so a connector's session (an IMAP connection) is never used
by two threads at once.
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from typing import Any

# Chunks are shared by the hasher and the request's thread: at most about AHEAD_BYTES plus a
# batch are in memory (the web worker's peak stays under 100 MiB, bench/mail_export.py).
BATCH_BYTES = 256 * 1024  # published to the hasher and the request's thread at once
AHEAD_BYTES = 1024 * 1024  # read but not yet sent: the reader waits beyond this
# The hasher may lag further behind (a file's checksum is only needed for manifest.json):
# the socket or the disk keeps being read while SHA-256, the slowest stage, catches up.
HASH_LAG_BYTES = 3 * 1024 * 1024
_END = object()


class ReadJob:
    """One file to read: its chunks, at most `expected` bytes of them, hashed on the way."""

    def __init__(self, chunks: Iterable[bytes], expected: int | None) -> None:
        self.chunks = chunks
        self.expected = expected
        self.digest = hashlib.sha256()  # the hasher's until `hashed`
        self.hashed = False
        self.read = 0
        self.grew = False  # more bytes than expected: the copy stops at its size


class ReadAhead:
    """The export's reader and hasher threads (started with the first file)."""

    def __init__(
        self,
        *,
        batch_bytes: int = BATCH_BYTES,
        ahead_bytes: int = AHEAD_BYTES,
        hash_lag_bytes: int = HASH_LAG_BYTES,
    ) -> None:
        self._batch_bytes = batch_bytes
        self._ahead_bytes = ahead_bytes
        self._hash_lag_bytes = hash_lag_bytes
        lock = threading.Lock()
        # One lock, a condition per thread that waits on it: a hand-off wakes only its thread.
        self._changed = threading.Condition(lock)  # the reader's: jobs, or room
        self._for_sender = threading.Condition(lock)
        self._for_hasher = threading.Condition(lock)
        self._hashed = threading.Condition(lock)  # a file's digest is complete
        self._jobs: deque[ReadJob] = deque()
        self._ready: deque[tuple[ReadJob, Any]] = deque()  # published to the request's thread
        self._ready_bytes = 0
        self._to_hash: deque[tuple[ReadJob, Any]] = deque()  # published to the hasher
        self._to_hash_bytes = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._hasher: threading.Thread | None = None

    def submit(self, chunks: Iterable[bytes], expected: int | None) -> ReadJob:
        """Queue a file; its chunks come out of chunks() in the order files were submitted."""
        job = ReadJob(chunks, expected)
        with self._changed:
            self._jobs.append(job)
            self._changed.notify_all()
        if self._thread is None:
            context = contextvars.copy_context()
            self._thread = threading.Thread(
                target=context.run, args=(self._run,), name="export-reader", daemon=True
            )
            self._hasher = threading.Thread(target=self._hash, name="export-sha256", daemon=True)
            self._thread.start()
            self._hasher.start()
        return job

    def wait_hashed(self, job: ReadJob) -> None:
        """Wait until the hasher is done with the job (its digest is the caller's then)."""
        with self._hashed:
            while not job.hashed and not self._stopping:
                self._hashed.wait()

    def chunks(self, job: ReadJob) -> Iterator[bytes]:
        """The job's chunks as the reader publishes them (the request's thread); raises what
        reading it raised. Files must be taken in the order they were submitted."""
        wait = self._for_sender
        failure: BaseException | None = None
        while True:
            with wait:
                while not self._ready:
                    wait.wait()
                owner, value = self._ready.popleft()
                if _is_chunk(value):
                    was = self._ready_bytes
                    self._ready_bytes -= len(value)
                    half = self._ahead_bytes // 2
                    if was > half >= self._ready_bytes:
                        self._changed.notify()  # the reader may be waiting for room
            assert owner is job, "files taken out of order"
            if value is _END:
                if failure is not None:
                    raise failure
                return
            if isinstance(value, BaseException):
                failure = value  # raised once the file's end is taken too
            else:
                yield value

    def close(self) -> None:
        """Stop after the current chunk, close what was being read, wait for both threads."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            self._for_hasher.notify_all()
            self._for_sender.notify_all()
            self._hashed.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._hasher is not None:
            self._hasher.join()
            self._hasher = None

    # The reader's thread ----------------------------------------------------------------

    def _run(self) -> None:
        batch: list[tuple[ReadJob, Any]] = []
        size = 0
        while True:
            with self._changed:
                while not self._jobs and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                job = self._jobs.popleft()
            items = self._read(job)
            try:
                for item in items:
                    batch.append(item)
                    if _is_chunk(item[1]):
                        size += len(item[1])
                    if size >= self._batch_bytes:
                        if not self._publish(batch, size):
                            return
                        batch, size = [], 0
            finally:
                items.close()
            # Between files: publish now unless more files are already waiting (small files
            # go out together), so the request's thread never waits for a batch to fill up.
            with self._changed:
                more = bool(self._jobs)
            if batch and not more:
                if not self._publish(batch, size):
                    return
                batch, size = [], 0

    def _read(self, job: ReadJob) -> Generator[tuple[ReadJob, Any], None, None]:
        chunks = iter(job.chunks)
        expected = job.expected
        try:
            for chunk in chunks:
                if expected is not None and job.read + len(chunk) > expected:
                    chunk = chunk[: expected - job.read]
                    job.grew = True
                job.read += len(chunk)
                yield job, chunk
                if job.grew or self._stopping:
                    break
        except GeneratorExit:
            raise
        except BaseException as exc:  # raised in the request's thread, by chunks()
            yield job, exc
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        yield job, _END

    def _publish(self, batch: list[tuple[ReadJob, Any]], size: int) -> bool:
        """Hand a batch to the hasher and the request's thread, after waiting for room;
        False when the export stopped."""
        ahead, lag = self._ahead_bytes, self._hash_lag_bytes
        with self._changed:
            while (self._ready_bytes > ahead or self._to_hash_bytes > lag) and not self._stopping:
                self._changed.wait()
            if self._stopping:
                return False
            self._ready.extend(batch)
            self._ready_bytes += size
            self._to_hash.extend(item for item in batch if not isinstance(item[1], BaseException))
            self._to_hash_bytes += size
            self._for_sender.notify()
            self._for_hasher.notify()
        return True

    # The hasher's thread ----------------------------------------------------------------

    def _hash(self) -> None:
        wait = self._for_hasher
        half = self._hash_lag_bytes // 2
        while True:
            with wait:
                while not self._to_hash and not self._stopping:
                    wait.wait()
                if self._stopping:
                    return
                # Everything published so far, in one go: one wake-up per batch at most.
                work = list(self._to_hash)
                self._to_hash.clear()
            for job, value in work:
                if value is _END:
                    with wait:
                        job.hashed = True
                        self._hashed.notify_all()
                else:
                    job.digest.update(value)  # releases the GIL on large chunks
                    with wait:
                        was = self._to_hash_bytes
                        self._to_hash_bytes -= len(value)
                        if was > half >= self._to_hash_bytes:
                            self._changed.notify()  # the reader may be waiting for room


def _is_chunk(value: Any) -> bool:
    return value is not _END and not isinstance(value, BaseException)
