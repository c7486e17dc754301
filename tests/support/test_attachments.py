"""Attachment type detection from content, file names, capped streams and storage."""

from __future__ import annotations

import io
import zipfile

import pytest
from support.ticket_helpers import EXE, PDF, PNG

from app.support.attachments import (
    AttachmentStore,
    CappedFile,
    TooLarge,
    clean_filename,
    download_name,
    sniff_type,
)


def odt() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.text",
            compress_type=zipfile.ZIP_STORED,
        )
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.exe", EXE)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (PDF, "application/pdf"),
        ("Journal: erreur à 10 h 02\n".encode(), "text/plain"),
        (odt(), "application/vnd.oasis.opendocument.text"),
        (EXE, None),
        (plain_zip(), None),
        (b"<!DOCTYPE html><p>hi", None),
        (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"<?xml version='1.0'?><x/>", None),
        (b"caf\xe9 latin-1", None),
        (b"text with a \x00 nul", None),
        (b"", None),
    ],
)
def test_type_is_decided_by_the_content(content, expected):
    assert sniff_type(content[:8192]) == expected


def test_utf8_text_cut_in_the_middle_of_a_character_is_still_text():
    head = ("a" + "é" * 5000).encode()[:8192]  # ends in the middle of a 2-byte character
    assert sniff_type(head) == "text/plain"
    assert sniff_type(head[:100] + b"\xff" + head[101:]) is None


def test_file_names_are_cleaned_of_paths_and_controls():
    assert clean_filename("C:\\Users\\me\\photo.png") == "photo.png"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("bad\x00\nname.txt") == "badname.txt"
    assert clean_filename("") == "attachment"
    assert clean_filename("..") == "attachment"
    long = clean_filename("a" * 300 + ".pdf")
    assert len(long) <= 200 and long.endswith(".pdf")


def test_download_name_gets_the_extension_of_the_real_type():
    assert download_name("photo.png", "image/png") == "photo.png"
    assert download_name("photo.JPG", "image/jpeg") == "photo.JPG"
    assert download_name("report.exe", "application/pdf") == "report.exe.pdf"


def test_capped_file_stops_storing_past_its_limit():
    capped = CappedFile(limit=10)
    capped.write(b"12345")
    capped.write(b"67890")
    assert not capped.over_limit
    capped.write(b"x")
    assert capped.over_limit and capped.received == 11
    capped.write(b"y" * 1000)
    capped.seek(0)
    assert capped.read() == b""


def test_store_counts_bytes_while_writing_and_leaves_nothing_when_too_large(tmp_path):
    store = AttachmentStore(tmp_path)
    with pytest.raises(TooLarge):
        store.save(io.BytesIO(b"x" * 200_000), limit=100_000)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    name, size = store.save(io.BytesIO(PNG), limit=100_000)
    assert size == len(PNG)
    assert store.path(name).read_bytes() == PNG
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_store_transaction_removes_files_when_the_block_fails(tmp_path):
    store = AttachmentStore(tmp_path)
    with pytest.raises(RuntimeError), store.transaction():
        store.save(io.BytesIO(PNG), limit=1000)
        raise RuntimeError("commit failed")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
