"""The streamed ZIP on its own: announced length, trailer room, closing early, ZIP64."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from app.connectors import files as files_connector
from app.connectors.base import ArchiveEntry, ConnectorError, Skipped
from app.connectors.files import FilesConnector
from app.directory import Person
from app.export import reading
from app.export.archive import ExportArchive
from app.export.plan import Part, Problem, planned_file
from app.export.services import ERRORS, MANIFEST, ExportContext, render_trailer
from helpers import missing_tool

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def context() -> ExportContext:
    account = SimpleNamespace(uid="alice")
    return ExportContext("Hoster", account, NOW, PARIS, SimpleNamespace())  # type: ignore[arg-type]


def archive_of(parts: list[Part], *, announce: bool = True) -> ExportArchive:
    ctx = context()
    return ExportArchive(
        head=[],
        parts=parts,
        render_trailer=lambda report, room: render_trailer(ctx, report, room),
        timezone=PARIS,
        announce_length=announce,
        now=NOW,
    )


def planned(service: str, *entries: ArchiveEntry) -> Part:
    return Part(service, service.title(), planned=[planned_file(e, service) for e in entries])


def read(archive: ExportArchive) -> tuple[bytes, zipfile.ZipFile]:
    body = b"".join(archive)
    opened = zipfile.ZipFile(io.BytesIO(body))
    assert opened.testzip() is None
    return body, opened


SCENARIOS = {
    "nothing at all": lambda tmp: [],
    "text, binary, empty, Unicode names": lambda tmp: [
        planned(
            "panel",
            ArchiveEntry("panel/a/notes.md", [b"# title\n" * 500]),
            ArchiveEntry("panel/a/blob.bin", [os.urandom(3000)]),
            ArchiveEntry("panel/a/empty.json", [b""]),
            ArchiveEntry("panel/ü/日本語 😀.txt", [b"tiny"]),
        )
    ],
    "failure while listing, skipped items": lambda tmp: [
        Part("broken", "Broken", planned=[], error="the service is down"),
        Part(
            "cloud",
            "Cloud",
            planned=[planned_file(ArchiveEntry("services/cloud/x.txt", [b"x"]), "cloud")],
            problems=[Problem("services/cloud/link", "link pointing outside")],
        ),
    ],
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_announced_length_is_the_length_sent(scenario: str, tmp_path: Path) -> None:
    archive = archive_of(SCENARIOS[scenario](tmp_path))
    assert archive.content_length is not None
    body, opened = read(archive)
    assert len(body) == archive.content_length
    manifest = json.loads(opened.read(MANIFEST))
    assert {f["path"] for f in manifest["files"]} == set(opened.namelist()) - {MANIFEST}


def test_files_that_shrink_during_the_download_keep_length_and_are_reported(
    tmp_path: Path,
) -> None:
    home = tmp_path / "alice"
    home.mkdir()
    for index in range(300):
        (home / f"f{index:03}.log").write_bytes(b"x" * 100)
    connector = FilesConnector("cloud", name="Cloud", path=f"{tmp_path}/{{uid}}", base_dir=tmp_path)
    person = Person("alice", "uid=alice", "Alice", None, None)
    entries = [e for e in connector.export(person) if isinstance(e, ArchiveEntry)]
    archive = archive_of([planned("cloud", *entries)])
    for index in range(300):
        (home / f"f{index:03}.log").write_bytes(b"y")
    body, opened = read(archive)
    assert len(body) == archive.content_length
    manifest = json.loads(opened.read(MANIFEST))
    cloud = manifest["services"][0]
    assert cloud["status"] == "partial"
    # 300 problems do not fit the room kept for them: the list is cut, not the archive.
    assert cloud["problems_not_listed"] > 0
    assert len(cloud["problems"]) + cloud["problems_not_listed"] == 300
    assert opened.read("services/cloud/f000.log") == b"y" + bytes(99)
    assert ERRORS not in opened.namelist()  # not planned: the manifest carries it


def test_every_checksum_of_the_manifest_is_that_of_the_file_in_the_archive(
    tmp_path: Path,
) -> None:
    home = tmp_path / "alice"
    home.mkdir()
    for index in range(400):  # small files: the reader and the sending thread share them
        (home / f"f{index:03}.bin").write_bytes(os.urandom(500 + 37 * index))
    (home / "large.bin").write_bytes(os.urandom(3 * files_connector.CHUNK + 5))
    connector = FilesConnector("cloud", name="Cloud", path=f"{tmp_path}/{{uid}}", base_dir=tmp_path)
    person = Person("alice", "uid=alice", "Alice", None, None)
    entries = [e for e in connector.export(person) if isinstance(e, ArchiveEntry)]
    _body, opened = read(archive_of([planned("cloud", *entries)], announce=False))
    records = json.loads(opened.read(MANIFEST))["files"]
    assert len(records) == 401
    for record in records:
        content = opened.read(record["path"])
        assert record["sha256"] == hashlib.sha256(content).hexdigest(), record["path"]


def test_without_a_known_length_failures_go_to_errors_txt(tmp_path: Path) -> None:
    def stream() -> Iterator[ArchiveEntry | Skipped]:
        yield ArchiveEntry("services/x/ok.txt", [b"fine"])
        yield Skipped("services/x/dev", "special file")
        raise ConnectorError("lost")

    archive = archive_of([Part("x", "X", stream=stream())])
    assert archive.content_length is None
    _body, opened = read(archive)
    assert opened.namelist()[-2:] == [ERRORS, MANIFEST]
    errors = opened.read(ERRORS).decode()
    assert "lost" in errors and "services/x/dev" in errors
    record = {f["path"]: f for f in json.loads(opened.read(MANIFEST))["files"]}[ERRORS]
    assert record["sha256"] == hashlib.sha256(opened.read(ERRORS)).hexdigest()


def test_a_connector_cannot_write_outside_its_folder_nor_twice_the_same_name() -> None:
    def stream() -> Iterator[ArchiveEntry | Skipped]:
        for path in (
            "../../home/alice/.bashrc",
            "/etc/cron.d/job",
            "manifest.json",
            "services/x/./a//b.txt",
            "services/x/a/b.txt",
        ):
            yield ArchiveEntry(path, [b"data"])

    planned_part = Part(
        "y",
        "Y",
        folder="services/y/",
        planned=[planned_file(ArchiveEntry("README.txt", [b"mine"]), "y")],
    )
    _body, opened = read(
        archive_of([Part("x", "X", folder="services/x/", stream=stream()), planned_part])
    )
    names = opened.namelist()
    assert names[:3] == [
        "services/x/etc/cron.d/job",
        "services/x/manifest.json",
        "services/x/a/b.txt",
    ]
    assert "services/y/README.txt" in names
    assert names.count(MANIFEST) == 1
    problems = json.loads(opened.read(MANIFEST))["services"][0]["problems"]
    assert [p["path"] for p in problems] == ["../../home/alice/.bashrc", "services/x/a/b.txt"]


def open_files_under(folder: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_stopping_the_download_midway_closes_the_open_file(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    home.mkdir()
    # Larger than what the export's reader reads ahead (AHEAD_BYTES published, a batch
    # beyond them and one in hand, a batch being at least one 1 MiB chunk): with 3 MiB it
    # could reach the end of the file, and close it, before the second chunk was taken.
    batch = max(reading.BATCH_BYTES, files_connector.CHUNK)
    size = 2 * reading.AHEAD_BYTES + 4 * batch
    (home / "big.bin").write_bytes(os.urandom(size))
    connector = FilesConnector("cloud", name="Cloud", path=f"{tmp_path}/{{uid}}", base_dir=tmp_path)
    person = Person("alice", "uid=alice", "Alice", None, None)
    entries = [e for e in connector.export(person) if isinstance(e, ArchiveEntry)]
    chunks = iter(archive_of([planned("cloud", *entries)]))
    next(chunks)
    next(chunks)
    assert open_files_under(home), "the file should be open while it is sent"
    chunks.close()  # the client went away
    assert open_files_under(home) == []


def test_stopping_the_download_midway_ends_the_connector_that_was_streaming() -> None:
    ended: list[str] = []

    def stream() -> Iterator[ArchiveEntry | Skipped]:
        try:
            yield ArchiveEntry("services/late/big.bin", (os.urandom(1024 * 1024) for _ in range(5)))
            yield ArchiveEntry("services/late/never.bin", [b"never"])
        finally:
            ended.append("late")

    chunks = iter(archive_of([Part("late", "Late", stream=stream())]))
    next(chunks)
    next(chunks)
    assert ended == []
    chunks.close()
    assert ended == ["late"]


# ZIP64: large archives (run with `pytest -m slow`) ------------------------------------------


ZEROS_4_GIB_123_SHA256 = "6bb8fad9e7d3b8a2d50162f90b08a40f2824d185aae0929c95114924264b7411"
# Their CRC-32 (`head -c 4294967419 /dev/zero | gzip -1 | tail -c 8 | od -An -tx4 -N4`).
ZEROS_4_GIB_123_CRC32 = 0x15D70E0C


def data_descriptor(path: Path, info: zipfile.ZipInfo) -> tuple[int, int, int]:
    """The CRC-32 and the sizes written after an entry's data, as a ZIP64 data descriptor."""
    with path.open("rb") as archive:
        archive.seek(info.header_offset)
        header = archive.read(30)
        (signature,) = struct.unpack_from("<I", header)
        (flags,) = struct.unpack_from("<H", header, 6)
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        assert signature == 0x04034B50, hex(signature)
        assert flags & 0x08, "the sizes should follow the data (a streamed entry)"
        archive.seek(info.header_offset + 30 + name_length + extra_length + info.compress_size)
        descriptor = archive.read(24)
    assert descriptor[:4] == b"PK\x07\x08", descriptor
    crc, compressed, size = struct.unpack_from("<IQQ", descriptor, 4)
    return crc, compressed, size


class SparseSink:
    """Writes the archive to disk, leaving runs of zeros as holes (a 4 GiB file costs nothing)."""

    def __init__(self, path: Path) -> None:
        self.out = path.open("wb")
        self.size = 0
        # A block of zeros per chunk length: comparing with it runs at memory speed, where
        # counting zero bytes took half a minute over 4 GiB.
        self.zeros: dict[int, bytes] = {}

    def write(self, chunk: bytes) -> None:
        zeros = self.zeros.get(len(chunk))
        if zeros is None and len(self.zeros) < 64:
            zeros = self.zeros[len(chunk)] = bytes(len(chunk))
        if chunk == (zeros if zeros is not None else bytes(len(chunk))):
            self.out.seek(len(chunk), os.SEEK_CUR)
        else:
            self.out.write(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        self.out.truncate(self.size)
        self.out.close()


@pytest.mark.slow
def test_an_archive_over_4_gib_uses_zip64_and_opens(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    home.mkdir()
    big = home / "disk-image.raw"
    with big.open("wb") as out:
        out.truncate(4 * 1024**3 + 123)  # sparse: zeros that take no disk
    (home / "after.txt").write_bytes(b"after the large file")
    connector = FilesConnector("cloud", name="Cloud", path=f"{tmp_path}/{{uid}}", base_dir=tmp_path)
    person = Person("alice", "uid=alice", "Alice", None, None)
    archive = archive_of(
        [planned("cloud", *[e for e in connector.export(person) if isinstance(e, ArchiveEntry)])]
    )
    target = tmp_path / "export.zip"
    sink = SparseSink(target)
    for chunk in archive:
        sink.write(chunk)
    sink.close()
    assert sink.size == archive.content_length
    with zipfile.ZipFile(target) as opened:
        info = opened.getinfo("services/cloud/disk-image.raw")
        assert info.file_size == 4 * 1024**3 + 123
        assert opened.read("services/cloud/after.txt") == b"after the large file"
        manifest = json.loads(opened.read(MANIFEST))
        record = {f["path"]: f for f in manifest["files"]}["services/cloud/disk-image.raw"]
        # The SHA-256 of 4 GiB + 123 zero bytes (`head -c 4294967419 /dev/zero | sha256sum`):
        # hashing them again here took a minute on a busy CI machine.
        assert record["sha256"] == ZEROS_4_GIB_123_SHA256
        size = 4 * 1024**3 + 123
        assert info.CRC == ZEROS_4_GIB_123_CRC32
        assert data_descriptor(target, info) == (ZEROS_4_GIB_123_CRC32, size, size)
        others = [name for name in opened.namelist() if name != info.filename]
    if not shutil.which("unzip"):
        missing_tool("unzip is not installed: apt-get install unzip")
    else:
        # unzip finds the entries after the large one through the ZIP64 records and checks
        # them; testing the large one too would only run unzip's CRC-32 over 4 GiB of zeros
        # (half a minute of CPU), whose result the lines above check against the constant.
        done = subprocess.run(
            ["unzip", "-tq", str(target), *others], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "No errors" in done.stdout, done.stdout


@pytest.mark.slow
def test_more_than_65535_files_use_zip64_and_open() -> None:
    entries = [ArchiveEntry(f"panel/many/{i:06}.bin", [b"%d" % i]) for i in range(70_000)]
    archive = archive_of([planned("panel", *entries)])
    body, opened = read(archive)
    assert len(body) == archive.content_length
    assert len(opened.namelist()) == 70_001
    assert opened.read("panel/many/069999.bin") == b"69999"
