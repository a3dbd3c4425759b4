from __future__ import annotations

import factory

from sellers.models import Seller


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Seller {n}")
    phone = factory.Sequence(lambda n: f"+7916{n:07d}")
    time_zone = "UTC"
    working_hours = "mon-sun 00:00-24:00"

    @factory.post_generation
    def sites(self, create, extracted, **kwargs):
        if create and extracted:
            self.sites.set(extracted)
