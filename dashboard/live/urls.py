from dashboard.live import connect, runs, runtimes, views

urlpatterns = [*views.urlpatterns, *runs.urlpatterns, *runtimes.urlpatterns, *connect.urlpatterns]
