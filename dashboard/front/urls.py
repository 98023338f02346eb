"""Every console page, one views module per resource; each module lists its own routes."""

from dashboard.front.views import (
    ai_credentials,
    api_keys,
    artifacts,
    extensions,
    operations,
    overview,
    profiles,
    recipes,
    runtimes,
    steps,
    storage,
    usage,
    vault,
    workspaces,
)

urlpatterns = [
    *overview.urlpatterns,
    *workspaces.urlpatterns,
    *runtimes.urlpatterns,
    *steps.urlpatterns,
    *recipes.urlpatterns,
    *operations.urlpatterns,
    *profiles.urlpatterns,
    *extensions.urlpatterns,
    *storage.urlpatterns,
    *artifacts.urlpatterns,
    *vault.urlpatterns,
    *ai_credentials.urlpatterns,
    *usage.urlpatterns,
    *api_keys.urlpatterns,
]
