"""Framework integrations for upload verdicts.

* ``magicguard.integrations.django``: ``UploadValidator``, a validator for
  Django form and model ``FileField``/``ImageField``.
* ``magicguard.integrations.starlette``: ``verify_upload`` for Starlette and
  ``upload_guard``, a FastAPI dependency; both check an ``UploadFile``
  without reading it all into memory.

Each imports its framework only when imported itself.
"""
