"""The export's reader thread on its own: every file's checksum is that of its bytes, whichever
of the two threads hashed it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest

from app.connectors.base import ConnectorError
from app.export import reading
from app.export.reading import ReadAhead, ReadJob


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def consume(reader: ReadAhead, jobs: list[ReadJob]) -> list[bytes]:
    """What the request's thread does: take every file's chunks in order, then the digests."""
    sent = []
    for job in jobs:
        sent.append(b"".join(reader.chunks(job)))
        reader.wait_hashed(job)
    return sent


@pytest.mark.parametrize(
    "batch_bytes",
    [
        1 << 30,  # nothing is published before the last file: the request's thread hashes
        4096,  # batches go out while small files are read: the threads share the hashing
    ],
)
def test_every_file_gets_the_checksum_of_its_bytes(batch_bytes: int) -> None:
    files = [os.urandom(size) for size in (0, 1, 700, 5000, 70_000, 3 * reading.SMALL_FILE_BYTES)]
    files += [os.urandom(3000 + index) for index in range(200)]
    reader = ReadAhead(batch_bytes=batch_bytes)
    try:
        jobs = [reader.submit(chunked(data, 4096), len(data)) for data in files]
        sent = consume(reader, jobs)
    finally:
        reader.close()
    assert sent == files
    for job, data in zip(jobs, files, strict=True):
        assert job.digest.hexdigest() == hashlib.sha256(data).hexdigest()
    if batch_bytes > sum(map(len, files)):
        assert all(job.hashed_by_sender for job in jobs if job.expected <= reading.SMALL_FILE_BYTES)
    assert not jobs[5].hashed_by_sender  # larger than a small file: always the reader's


def test_a_small_file_that_fails_midway_is_hashed_up_to_where_it_failed() -> None:
    def failing() -> Iterator[bytes]:
        yield b"first part"
        raise ConnectorError("lost")

    reader = ReadAhead(batch_bytes=1 << 30)
    try:
        job = reader.submit(failing(), 1000)
        after = reader.submit([b"next file"], 9)
        received = []
        with pytest.raises(ConnectorError):
            for chunk in reader.chunks(job):
                received.append(chunk)
        reader.wait_hashed(job)
        assert consume(reader, [after]) == [b"next file"]
    finally:
        reader.close()
    assert received == [b"first part"]
    assert job.digest.hexdigest() == hashlib.sha256(b"first part").hexdigest()
    assert after.digest.hexdigest() == hashlib.sha256(b"next file").hexdigest()
