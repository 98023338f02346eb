from dashboard.live.views import urlpatterns

__all__ = ["urlpatterns"]
