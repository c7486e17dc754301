"""Sample files and small helpers shared by the support tests."""

from __future__ import annotations

import io

from app.support.attachments import Upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(50)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)


def upload(name: str, data: bytes) -> Upload:
    return Upload(filename=name, stream=io.BytesIO(data), received=len(data))
