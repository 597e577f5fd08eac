"""A Django validator that refuses uploads a magicguard ``Policy`` refuses.

.. code-block:: python

    from django import forms
    from magicguard.integrations.django import UploadValidator

    class AvatarForm(forms.Form):
        avatar = forms.FileField(validators=[UploadValidator(allow=["image/*"],
                                                             max_size="5 MiB")])

In a model, give the policy's settings as keywords (``allow=``, ``deny=``,
...), so migrations can serialise the validator.  The uploaded file is read
at its head and tail only, from its start, and put back where it was.
"""

from __future__ import annotations

import io
from typing import Any, Optional

from django.core.exceptions import ValidationError  # type: ignore[import-untyped,import-not-found,unused-ignore]
from django.utils.deconstruct import deconstructible  # type: ignore[import-untyped,import-not-found,unused-ignore]

from ..policy import Policy
from ..verdict import Verdict, inspect

__all__ = ["UploadValidator"]


@deconstructible
class UploadValidator:
    """Validate an uploaded file with ``magicguard.inspect``.

    Args:
        policy: a ``Policy``; or give its fields as keywords (``allow=``,
            ``deny=``, ``max_size=``, ``extension_must_match=``, ...).
            Neither: ``Policy()``.

    Raises ``ValidationError`` when the verdict refuses the file: one error
    per reason, its code the finding's (``extension_mismatch``,
    ``multiple_formats``, ...) or ``refused_by_policy`` for a type that
    ``allow``/``deny`` keep out.  The verdict of the last call is
    not kept: use ``magicguard.inspect`` directly to show it.
    """

    def __init__(self, policy: Optional[Policy] = None, **settings: Any) -> None:
        if policy is not None and settings:
            raise TypeError("give either policy= or the policy's settings as keywords, not both")
        if policy is not None and not isinstance(policy, Policy):
            raise TypeError(f"policy must be a magicguard.Policy, not {type(policy).__name__}")
        self.policy = policy if policy is not None else Policy.from_mapping(settings)

    def verdict(self, value: Any) -> Verdict:
        """The verdict on ``value`` (an ``UploadedFile``, a ``File`` or a ``FieldFile``)."""
        fileobj = getattr(value, "file", None) or value
        name = getattr(value, "name", None)
        declared = getattr(value, "content_type", None)
        seekable = hasattr(fileobj, "seek") and hasattr(fileobj, "tell")
        position = fileobj.tell() if seekable else None
        try:
            if seekable:
                fileobj.seek(0, io.SEEK_SET)
            return inspect(fileobj, filename=name if isinstance(name, str) else None,
                           declared_type=declared if isinstance(declared, str) else None,
                           policy=self.policy)
        finally:
            if position is not None:
                fileobj.seek(position, io.SEEK_SET)

    def __call__(self, value: Any) -> None:
        """Raise ValidationError (one per reason) unless the upload is allowed."""
        verdict = self.verdict(value)
        if verdict.allowed:
            return
        # One error per reason: a refusing finding under its own code (extension_mismatch,
        # ...), a type outside allow/deny as refused_by_policy.
        refusing = self.policy.refusing
        errors = [ValidationError("%(reason)s", code=f.code, params={"reason": f.message})
                  for f in verdict.findings if f.code in refusing]
        errors += [ValidationError("%(reason)s", code=f.code, params={"reason": f.message})
                   for f in verdict.findings
                   if f.code == "refused_by_policy" and not f.message.startswith("refused: ")]
        raise ValidationError(errors or [ValidationError("refused by the upload policy",
                                                         code="refused_by_policy")])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UploadValidator) and other.policy == self.policy

    def __hash__(self) -> int:
        return hash(self.policy)
