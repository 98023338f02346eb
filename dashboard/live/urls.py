from dashboard.live import runs, runtimes, views

urlpatterns = [*views.urlpatterns, *runs.urlpatterns, *runtimes.urlpatterns]
