from __future__ import annotations

import factory
from django.utils import timezone

from leads.models import Lead, Partner, PartnerRule, Site
from leads.pipeline import initial_step_fields
from telephony.models import CallAttempt


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("domain",)

    domain = factory.Sequence(lambda n: f"shop{n}.example")
    name = factory.LazyAttribute(lambda o: o.domain.split(".")[0].title())


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    code = factory.Sequence(lambda n: f"partner-{n}")


class PartnerRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerRule

    partner = factory.SubFactory(PartnerFactory)
    kind = PartnerRule.Kind.UTM_SOURCE
    value = factory.Sequence(lambda n: f"source{n}")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    site = factory.SubFactory(SiteFactory)
    phone_raw = factory.Sequence(lambda n: f"+7 912 {n:07d}")
    phone = factory.Sequence(lambda n: f"+7912{n:07d}")
    ref = factory.LazyAttribute(lambda o: o.phone)
    name = "Ivan"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        for key, value in initial_step_fields(timezone.now()).items():
            kwargs.setdefault(key, value)
        return super()._create(model_class, *args, **kwargs)


class CallAttemptFactory(factory.django.DjangoModelFactory):
    """An attempt of its own lead's first call, on that lead's site (as a dial writes it)."""

    class Meta:
        model = CallAttempt

    lead = factory.SubFactory(LeadFactory)
    site = factory.LazyAttribute(lambda o: o.lead.site)
    number = 1
    phone = factory.LazyAttribute(lambda o: o.lead.phone)
