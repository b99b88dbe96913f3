from django.urls import path

from .views import once

urlpatterns = [path("once/", once)]
