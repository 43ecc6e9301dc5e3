from django.conf import settings
from django.core.files.storage import FileSystemStorage


def private_storage() -> FileSystemStorage:
    """Files outside MEDIA_ROOT with no public URL: served only through permission-checked views
    (relief documents, job uploads and results)."""
    return FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, base_url=None)
