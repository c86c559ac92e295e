from decimal import Decimal

from django.db import models


class Product(models.Model):
    """A product as salesman's docs define one: name, code, get_price(request)."""
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=64, unique=True)
    price = models.DecimalField(max_digits=18, decimal_places=2)

    def __str__(self):
        return self.name

    def get_price(self, request) -> Decimal:
        return self.price

    def get_absolute_url(self) -> str:
        return f"/products/{self.code}/"
