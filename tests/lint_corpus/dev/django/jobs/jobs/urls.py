from django.urls import path

from . import views

urlpatterns = [path("nightly/", views.nightly), path("digest/", views.digest)]
