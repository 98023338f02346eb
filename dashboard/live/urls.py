from dashboard.live import runtimes, views

urlpatterns = [*views.urlpatterns, *runtimes.urlpatterns]
