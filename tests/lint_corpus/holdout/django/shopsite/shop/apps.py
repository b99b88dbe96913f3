from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import registry

        registry.PAYMENT_PROVIDERS["card"] = "shop.payments.card"  # trap: AppConfig.ready runs at start-up
        registry.PAYMENT_PROVIDERS.setdefault("invoice", "shop.payments.invoice")  # trap: start-up
