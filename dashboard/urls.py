from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from dashboard.accounts import sso
from dashboard.accounts.views import RateLimitedLoginView

urlpatterns = [
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # single sign-on (OIDC_*): off to the provider, and back (each says why when it is off)
    path("sso/start/", login_not_required(sso.SignInView.as_view()), name="sso_start"),
    path("sso/callback/", login_not_required(sso.CallbackView.as_view()), name="sso_callback"),
    path("", include("dashboard.front.urls")),
    path("", include("dashboard.accounts.urls")),
    path("", include("dashboard.audit.urls")),
    path("", include("dashboard.alerts.urls")),
    path("", include("dashboard.live.urls")),
]
