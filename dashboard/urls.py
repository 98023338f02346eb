from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard.accounts.views import RateLimitedLoginView

urlpatterns = [
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("dashboard.front.urls")),
    path("", include("dashboard.accounts.urls")),
    path("", include("dashboard.audit.urls")),
    path("", include("dashboard.alerts.urls")),
    path("", include("dashboard.live.urls")),
]
