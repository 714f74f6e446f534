from django.conf import settings
from django.http import HttpRequest


def readonly(request: HttpRequest) -> dict[str, bool]:
    return {"readonly_demo": settings.DEMO_READONLY}
