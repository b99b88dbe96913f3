from django.apps import AppConfig

from . import views


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self):
        views.CATEGORIES.update({"books": 1, "music": 2})  # trap: AppConfig.ready is start-up
