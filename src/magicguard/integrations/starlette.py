"""Starlette and FastAPI: check an ``UploadFile`` without reading it all.

Starlette:

.. code-block:: python

    from magicguard import Policy
    from magicguard.integrations.starlette import verify_upload

    async def upload(request):
        form = await request.form()
        verdict = await verify_upload(form["file"], Policy(allow=["image/*"]))
        ...  # refused uploads raised HTTPException(415)

FastAPI:

.. code-block:: python

    from fastapi import Depends, FastAPI
    from magicguard.integrations.starlette import CheckedUpload, upload_guard

    app = FastAPI()

    @app.post("/avatar")
    async def avatar(upload: CheckedUpload = Depends(upload_guard("file", allow=["image/*"]))):
        return {"label": upload.verdict.label}

The check reads the upload's head (libmagic's ``BYTES_MAX``) and its last
64 KiB from ``UploadFile.file`` in a worker thread, and puts the file back
at its position, so the endpoint reads it whole afterwards.
"""

from __future__ import annotations

import inspect as _pyinspect
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from ..policy import Policy
from ..verdict import Verdict, ainspect

__all__ = ["CheckedUpload", "upload_guard", "verify_upload"]


def _message(verdict: Verdict) -> str:
    reasons = [f.message for f in verdict.findings if f.code == "refused_by_policy"]
    return "upload refused: " + ("; ".join(reasons) or "by the upload policy")


async def verify_upload(upload: UploadFile, policy: Optional[Policy] = None, *,
                        status_code: int = 415) -> Verdict:
    """The verdict on ``upload``; raises ``HTTPException(status_code)`` when refused.

    The upload's ``filename`` and ``content_type`` are checked against its content.
    """
    verdict = await ainspect(upload, filename=upload.filename,
                             declared_type=upload.content_type, policy=policy)
    if not verdict.allowed:
        raise HTTPException(status_code, detail=_message(verdict))
    return verdict


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed its policy, with its verdict."""

    file: UploadFile
    verdict: Verdict


def upload_guard(field: str = "file", policy: Optional[Policy] = None, *,
                 status_code: int = 415, **settings: Any) -> Callable[..., Awaitable[CheckedUpload]]:
    """A FastAPI dependency checking the form field ``field``.

    Args:
        field: the multipart form field holding the file.
        policy: a ``Policy``, or give its fields as keywords (``allow=`` ...).
        status_code: the status of the refusal (415 Unsupported Media Type);
            its ``detail`` is ``{"message": ..., "verdict": Verdict.to_dict()}``.

    Returns:
        an async callable for ``Depends(...)`` that yields a ``CheckedUpload``.
    """
    from fastapi import File
    from fastapi import HTTPException as FastAPIHTTPException
    from fastapi import UploadFile as FastAPIUploadFile  # FastAPI's own, which it validates

    if policy is not None and settings:
        raise TypeError("give either policy= or the policy's settings as keywords, not both")
    chosen = policy if policy is not None else Policy.from_mapping(settings)
    if not field.isidentifier():
        raise ValueError(f"field must be a Python identifier (a form field name), got {field!r}")

    async def dependency(**kwargs: Any) -> CheckedUpload:
        upload = kwargs[field]
        verdict = await ainspect(upload, filename=upload.filename,
                                 declared_type=upload.content_type, policy=chosen)
        if not verdict.allowed:
            raise FastAPIHTTPException(status_code, detail={"message": _message(verdict),
                                                            "verdict": verdict.to_dict()})
        return CheckedUpload(upload, verdict)

    parameter = _pyinspect.Parameter(field, _pyinspect.Parameter.KEYWORD_ONLY,
                                     default=File(...), annotation=FastAPIUploadFile)
    # setattr: a function object's __signature__ is not a declared attribute for type checkers.
    setattr(dependency, "__signature__",  # noqa: B010
            _pyinspect.Signature([parameter], return_annotation=CheckedUpload))
    return dependency
