from dashboard.alerts.views import urlpatterns

__all__ = ["urlpatterns"]
