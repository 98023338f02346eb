from django.contrib.auth.views import LoginView


class RateLimitedLoginView(LoginView):
    """Placeholder until login rate limiting lands."""
