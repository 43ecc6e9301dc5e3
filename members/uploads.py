"""Supporting documents: PDF, JPEG or PNG, checked by their content, not their name."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Magic numbers at the start of the file, and the extensions each type may carry.
SIGNATURES = {
    "application/pdf": (b"%PDF-", (".pdf",)),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg")),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",)),
}


def check_upload(upload) -> str:
    """Return the file's real content type, or raise a ValidationError in the user's language."""
    name = upload.name or ""
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("“%(name)s” is larger than 5 MB. Please upload a smaller file.") % {"name": name}
        )
    if upload.size == 0:
        raise ValidationError(_("“%(name)s” is empty.") % {"name": name})
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    lower = name.lower()
    for content_type, (magic, extensions) in SIGNATURES.items():
        if head.startswith(magic):
            if not lower.endswith(extensions):
                break
            return content_type
    raise ValidationError(
        _(
            "“%(name)s” is not a PDF, JPG or PNG file (its content does not match its name). "
            "Only PDF, JPG and PNG documents are accepted."
        )
        % {"name": name}
    )
