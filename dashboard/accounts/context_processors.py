from django.http import HttpRequest


def role(request: HttpRequest) -> dict[str, object]:
    """Placeholder until roles land."""
    return {}
