from django.core.management.base import BaseCommand

from shop import registry
from shop.models import Product


class Command(BaseCommand):
    help = "Import products from a CSV file"  # trap: command attribute

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, **options):
        with open(options["path"]) as f:
            for line in f:
                sku, name, price = line.strip().split(",")
                Product.objects.update_or_create(sku=sku, defaults={"name": name, "price": price})
                registry.IMPORTED.append(sku)  # trap: management command, no request reaches it
