"""The FastAPI dependency and the Starlette helper, run by the frameworks' own TestClient."""

from __future__ import annotations

import hashlib
import io
import os
import random
import sys
import zipfile
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi", reason="fastapi is in the test extra")

from fastapi import Depends, FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from magicguard import Policy  # noqa: E402
from magicguard.integrations.starlette import CheckedUpload, upload_guard, verify_upload  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import verdict_corpus as corpus  # noqa: E402

app = FastAPI()


@app.post("/avatar")
async def avatar(upload: CheckedUpload = Depends(upload_guard("image", allow=["image/*"]))) -> Any:  # noqa: B008 - FastAPI declares dependencies in the signature
    position = upload.file.file.tell()
    data = await upload.file.read()
    return {"label": upload.verdict.label, "position": position,
            "sha256": hashlib.sha256(data).hexdigest()}


async def star_upload(request: Request) -> JSONResponse:
    form = await request.form()
    verdict = await verify_upload(form["file"], Policy(deny=["elf", "exe", "macho"]))  # type: ignore[arg-type]
    return JSONResponse({"label": verdict.label})


star = Starlette(routes=[Route("/upload", star_upload, methods=["POST"])])


def _zip() -> bytes:
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("shell.php", "<?php system($_GET['c']); ?>")
    return z.getvalue()


def test_fastapi_good_image_passes_untouched() -> None:
    png = corpus.png(random.Random(1))
    r = TestClient(app).post("/avatar", files={"image": ("me.png", png, "image/png")})
    assert r.status_code == 200, r.text
    assert r.json() == {"label": "png", "position": 0,
                        "sha256": hashlib.sha256(png).hexdigest()}


def test_fastapi_large_upload_checked_without_reading_it_all() -> None:
    """A 24 MiB upload (spooled to disk by Starlette): the check reads the head and
    tail only, and the endpoint then reads every byte."""
    png = corpus.png(random.Random(2))
    big = png[:-12] + os.urandom(24 << 20) + png[-12:]
    r = TestClient(app).post("/avatar", files={"image": ("big.png", big, "image/png")})
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == hashlib.sha256(big).hexdigest()
    assert r.json()["position"] == 0


def test_fastapi_refuses_polyglot_renamed_and_lying_type() -> None:
    client = TestClient(app)
    cases = [
        (("cat.jpg", corpus.jpeg(random.Random(1)) + _zip(), "image/jpeg"), "multiple_formats"),
        (("cat.png", corpus.jpeg(random.Random(1)), "image/png"), "extension_mismatch"),
        (("cat.jpg", corpus.jpeg(random.Random(1)), "application/pdf"), "declared_type_mismatch"),
        (("doc.pdf", corpus.pdf(random.Random(1)), "application/pdf"), "refused_by_policy"),
    ]
    for upload, code in cases:
        r = client.post("/avatar", files={"image": upload})
        assert r.status_code == 415, (upload[0], r.text)
        detail = r.json()["detail"]
        assert code in {f["code"] for f in detail["verdict"]["findings"]}, (upload[0], detail)
        assert detail["verdict"]["allowed"] is False
        assert detail["message"].startswith("upload refused: ")


def test_fastapi_missing_field_is_a_validation_error() -> None:
    r = TestClient(app).post("/avatar", files={"other": ("a.png", b"x", "image/png")})
    assert r.status_code == 422


def test_starlette_verify_upload() -> None:
    client = TestClient(star)
    r = client.post("/upload", files={"file": ("a.gif", corpus.gif(random.Random(1)), "image/gif")})
    assert r.status_code == 200 and r.json() == {"label": "gif"}
    with open(sys.executable, "rb") as f:  # the interpreter: ELF on Linux, Mach-O on macOS
        program = f.read(1 << 20)
    r = client.post("/upload", files={"file": ("python", program, "application/octet-stream")})
    assert r.status_code == 415
    assert "matches deny pattern" in r.text


def test_upload_guard_arguments() -> None:
    with pytest.raises(ValueError, match="identifier"):
        upload_guard("not a name")
    with pytest.raises(TypeError, match="not both"):
        upload_guard("f", Policy(), allow=["x"])


def test_verify_upload_reads_only_the_head_and_tail() -> None:
    """On a 64 MiB UploadFile the check reads the head (7 MiB) and the tail (64 KiB), no more."""
    import asyncio

    from starlette.datastructures import Headers, UploadFile

    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, n: int | None = -1) -> bytes:
            data = super().read(n)
            Counting.read_bytes += len(data)
            return data

    png = corpus.png(random.Random(4))
    big = Counting(png[:-12] + bytes(64 << 20) + png[-12:])
    upload = UploadFile(big, filename="big.png", headers=Headers({"content-type": "image/png"}))
    verdict = asyncio.run(verify_upload(upload))
    assert verdict.label == "png" and verdict.allowed and verdict.size == len(big.getvalue())
    assert Counting.read_bytes <= (7 << 20) + (65 << 10)
    assert big.tell() == 0
