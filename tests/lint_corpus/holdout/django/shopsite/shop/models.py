from django.db import models


class Product(models.Model):
    sku = models.CharField(max_length=40, unique=True)  # trap: model field declarations
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.IntegerField(default=0)


class Order(models.Model):
    owner = models.ForeignKey("auth.User", on_delete=models.CASCADE)
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    qty = models.IntegerField()
    charged = models.BooleanField(default=False)
