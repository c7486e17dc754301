"""Reading ahead: the files of the export are read and hashed (SHA-256) on one helper
thread while the request's thread computes the CRC and sends, so the work is spread over
the cores (os.read, socket reads, hashlib and CRC-32 release the GIL).

Issue 22: handing every chunk from one thread to another cost more than the work itself on
a busy machine (each hand-off wakes a thread). Here the reader publishes chunks in batches
of at least `BATCH_BYTES` to the request's thread, which only waits when nothing is ready;
the reader only waits when `AHEAD_BYTES` wait for the sender (it is woken again once half
of them went). Every byte is read once and never copied on the way.

Each chunk is hashed by the reader right after reading it, while it is still in the
core's cache: a third thread for SHA-256 cost the mail export 0.3-0.5 s of CPU per GiB
more (waking it, handing it the chunks, reading them again from another core), more than
the parallelism it gave on two shared cores (bench/mail_stages.py, December 2026).

Small files are the exception: the reader reads them faster than it hashes them, and with
thousands of them it made the request's thread wait for chunks about half of the time (issue
22, fourth pass). When less than a batch is ready for the request's thread as the reader
starts a small file, that thread is about to wait: the reader leaves the file's SHA-256 to
it, and goes on reading. The bytes pass through both threads anyway, so either can hash
them; each file is hashed by exactly one of them.

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

# At most about AHEAD_BYTES plus a batch are in memory (the web worker's peak stays under
# 100 MiB, bench/mail_export.py).
BATCH_BYTES = 256 * 1024  # published to the request's thread at once
AHEAD_BYTES = 1024 * 1024  # read but not yet sent: the reader waits beyond this
# Files up to this size may be hashed by the request's thread instead of the reader's.
SMALL_FILE_BYTES = 256 * 1024
_END = object()


class ReadJob:
    """One file to read: its chunks, at most `expected` bytes of them, hashed on the way."""

    def __init__(self, chunks: Iterable[bytes], expected: int | None) -> None:
        self.chunks = chunks
        self.expected = expected
        self.digest = hashlib.sha256()  # the hashing thread's until `hashed`
        self.hashed = False
        # Hashed by the request's thread as it takes the chunks, not by the reader: decided
        # by the reader when it starts reading the file, before publishing any of it.
        self.hashed_by_sender = False
        self.read = 0
        self.grew = False  # more bytes than expected: the copy stops at its size


class ReadAhead:
    """The export's reader thread (started with the first file)."""

    def __init__(self, *, batch_bytes: int = BATCH_BYTES, ahead_bytes: int = AHEAD_BYTES) -> None:
        self._batch_bytes = batch_bytes
        self._ahead_bytes = ahead_bytes
        lock = threading.Lock()
        # One lock, a condition per thread that waits on it: a hand-off wakes only its thread.
        self._changed = threading.Condition(lock)  # the reader's: jobs, or room
        self._for_sender = threading.Condition(lock)
        self._hashed = threading.Condition(lock)  # a file's digest is complete
        self._jobs: deque[ReadJob] = deque()
        self._ready: deque[tuple[ReadJob, Any]] = deque()  # published to the request's thread
        self._ready_bytes = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

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
            self._thread.start()
        return job

    def wait_hashed(self, job: ReadJob) -> None:
        """Wait until the reader is done with the job (its digest is the caller's then)."""
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
                if job.hashed_by_sender:
                    job.hashed = True  # no other thread waits for it: no notify
                if failure is not None:
                    raise failure
                return
            if isinstance(value, BaseException):
                failure = value  # raised once the file's end is taken too
            else:
                if job.hashed_by_sender:
                    job.digest.update(value)
                yield value

    def close(self) -> None:
        """Stop after the current chunk, close what was being read, wait for the reader."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            self._for_sender.notify_all()
            self._hashed.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

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
        # _ready_bytes is read without the lock: it is only a hint that the request's thread
        # is about to wait for chunks, so has time to hash this file.
        small = expected is not None and expected <= SMALL_FILE_BYTES
        by_sender = job.hashed_by_sender = small and self._ready_bytes < self._batch_bytes
        try:
            for chunk in chunks:
                if expected is not None and job.read + len(chunk) > expected:
                    chunk = chunk[: expected - job.read]
                    job.grew = True
                job.read += len(chunk)
                if not by_sender:
                    job.digest.update(chunk)  # releases the GIL on large chunks
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
        if not by_sender:
            with self._hashed:
                job.hashed = True
                self._hashed.notify_all()
        yield job, _END

    def _publish(self, batch: list[tuple[ReadJob, Any]], size: int) -> bool:
        """Hand a batch to the request's thread, after waiting for room; False when the
        export stopped."""
        with self._changed:
            while self._ready_bytes > self._ahead_bytes and not self._stopping:
                self._changed.wait()
            if self._stopping:
                return False
            self._ready.extend(batch)
            self._ready_bytes += size
            self._for_sender.notify()
        return True


def _is_chunk(value: Any) -> bool:
    return value is not _END and not isinstance(value, BaseException)
