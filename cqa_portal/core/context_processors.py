from django.conf import settings


def portal(request):
    return {
        "PORTAL": settings.PORTAL,
        "ICP_FILING_NUMBER": settings.ICP_FILING_NUMBER,
        "ICP_REGISTRY_URL": settings.ICP_REGISTRY_URL,
    }
