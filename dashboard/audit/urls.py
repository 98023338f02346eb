from django.http import HttpRequest, HttpResponse
from django.urls import path


async def placeholder(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Not built yet", status=501)


urlpatterns = [path("audit/", placeholder, name="audit")]
