"""The Django validator, run by Django itself: a form in a view, through the test Client."""

from __future__ import annotations

import hashlib
import io
import os
import random
import sys
import zipfile
from typing import Any

import pytest

django = pytest.importorskip("django", reason="django is in the test extra")

from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="magicguard-tests",  # noqa: S106 - test settings
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        FILE_UPLOAD_MAX_MEMORY_SIZE=1 << 20,
        USE_TZ=True,
    )
    django.setup()

from django import forms  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db.migrations.writer import MigrationWriter  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402

from magicguard import Policy  # noqa: E402
from magicguard.integrations.django import UploadValidator  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import verdict_corpus as corpus  # noqa: E402


class UploadForm(forms.Form):
    file = forms.FileField(validators=[UploadValidator(allow=["image/*", "pdf"])])


def upload_view(request: HttpRequest) -> JsonResponse:
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        f = form.cleaned_data["file"]
        data = f.read()  # the validator put the file back at its start
        return JsonResponse({"ok": True, "sha256": hashlib.sha256(data).hexdigest(),
                             "class": type(f).__name__})
    return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)


urlpatterns = [path("upload", upload_view)]


def _post(name: str, data: bytes, content_type: Any = None) -> Any:
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return Client().post("/upload", {"file": upload})


def test_good_image_passes_and_is_read_whole() -> None:
    png = corpus.png(random.Random(1))
    r = _post("photo.png", png, "image/png")
    assert r.status_code == 200, r.content
    assert r.json()["sha256"] == hashlib.sha256(png).hexdigest()


def test_large_upload_on_disk_passes_and_is_read_whole() -> None:
    """Above FILE_UPLOAD_MAX_MEMORY_SIZE Django spools to a temporary file; still whole."""
    big = corpus.png(random.Random(2))
    big = big[:-12] + b"\0" * (3 << 20) + big[-12:]  # a large PNG (padding before IEND)
    r = _post("big.png", big, "image/png")
    assert r.status_code == 200, r.content
    assert r.json()["class"] == "TemporaryUploadedFile"
    assert r.json()["sha256"] == hashlib.sha256(big).hexdigest()


def test_renamed_file_is_refused_with_codes() -> None:
    r = _post("photo.png", corpus.pdf(random.Random(1)), "image/png")
    assert r.status_code == 400
    errors = r.json()["errors"]["file"]
    # A PDF is allowed, but the name and the Content-Type lie about it.
    assert {e["code"] for e in errors} == {"extension_mismatch", "declared_type_mismatch"}
    assert any("'photo.png' says png (.png) but the content is pdf" in e["message"]
               for e in errors)


def test_polyglot_and_disallowed_type_are_refused() -> None:
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("x.php", "<?php system($_GET['c']); ?>")
    r = _post("cat.jpg", corpus.jpeg(random.Random(1)) + z.getvalue(), "image/jpeg")
    assert r.status_code == 400
    assert "multiple_formats" in {e["code"] for e in r.json()["errors"]["file"]}
    r = _post("notes.txt", b"just text\n", "text/plain")
    assert r.status_code == 400
    errors = r.json()["errors"]["file"]
    assert [e["code"] for e in errors] == ["refused_by_policy"]
    assert "none of the allow patterns" in errors[0]["message"]


def test_validator_direct_and_position_restored() -> None:
    f = SimpleUploadedFile("a.gif", corpus.gif(random.Random(1)), content_type="image/gif")
    f.seek(3)
    UploadValidator()(f)
    assert f.tell() == 3
    with pytest.raises(ValidationError) as info:
        UploadValidator(policy=Policy(deny=["gif"]))(f)
    assert info.value.error_list[0].code == "refused_by_policy"
    assert f.tell() == 3


def test_validator_serialises_for_migrations() -> None:
    v = UploadValidator(allow=["image/*"], max_size="5 MiB")
    # deconstruct() is added by django's @deconstructible, which mypy cannot see.
    assert v.deconstruct() == (  # type: ignore[attr-defined]
        "magicguard.integrations.django.UploadValidator", (),
        {"allow": ["image/*"], "max_size": "5 MiB"})
    text, _imports = MigrationWriter.serialize(v)
    assert "UploadValidator(allow=['image/*'], max_size='5 MiB')" in text
    assert v == UploadValidator(allow=("image/*",), max_size=5 << 20)
    with pytest.raises(TypeError, match="not both"):
        UploadValidator(Policy(), allow=["x"])
