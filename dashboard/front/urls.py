"""Every console page, one views module per resource; each module lists its own routes."""

from dashboard.front.views import (
    ai_credentials,
    artifacts,
    extensions,
    operations,
    overview,
    profiles,
    runtimes,
    storage,
    vault,
    workspaces,
)

urlpatterns = [
    *overview.urlpatterns,
    *workspaces.urlpatterns,
    *runtimes.urlpatterns,
    *operations.urlpatterns,
    *profiles.urlpatterns,
    *extensions.urlpatterns,
    *storage.urlpatterns,
    *artifacts.urlpatterns,
    *vault.urlpatterns,
    *ai_credentials.urlpatterns,
]
