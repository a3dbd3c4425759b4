"""Columns the dashboard reads instead of joining call attempts, and intake counters per quarter hour
(they were per server day, which the dashboard could not split into days of another time zone)."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations, models
from django.db.models import Min, OuterRef, Subquery
from django.db.models.functions import Coalesce


def counters_to_slots(apps, schema_editor):
    # A day's counter was kept by the server's date: it becomes the first quarter hour of that day.
    IntakeCounter = apps.get_model("leads", "IntakeCounter")
    zone = ZoneInfo(settings.TIME_ZONE)
    for counter in IntakeCounter.objects.all():
        counter.slot = datetime.combine(counter.day, time(0), tzinfo=zone)
        counter.save(update_fields=["slot"])


def slots_to_counters(apps, schema_editor):
    IntakeCounter = apps.get_model("leads", "IntakeCounter")
    zone = ZoneInfo(settings.TIME_ZONE)
    days: dict = {}
    for counter in IntakeCounter.objects.order_by("slot"):
        key = (counter.slot.astimezone(zone).date(), counter.site_id, counter.kind)
        if key in days:
            days[key].count += counter.count
            days[key].save(update_fields=["count"])
            counter.delete()
        else:
            counter.day = key[0]
            counter.save(update_fields=["day"])
            days[key] = counter


def call_columns_fill(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    CallAttempt = apps.get_model("telephony", "CallAttempt")
    attempts = CallAttempt.objects.filter(lead=OuterRef("pk"))
    first = attempts.order_by().values("lead").annotate(first=Min("created_at")).values("first")
    latest = attempts.exclude(outcome="").order_by("-number").values("outcome")[:1]
    Lead.objects.filter(pk__in=CallAttempt.objects.values("lead")).update(
        first_dial_at=Subquery(first), last_call_outcome=Coalesce(Subquery(latest), models.Value("")))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0006_groups"),
        ("telephony", "0002_attempt_custom_data"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead", name="first_dial_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="first dialled"),
        ),
        migrations.AddField(
            model_name="lead", name="last_call_outcome",
            field=models.CharField(blank=True, max_length=10, verbose_name="last call outcome"),
        ),
        migrations.RunPython(call_columns_fill, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="intakecounter", name="intake_counter_unique"),
        migrations.RemoveConstraint(model_name="intakecounter", name="intake_counter_unique_nosite"),
        migrations.AddField(
            model_name="intakecounter", name="slot",
            field=models.DateTimeField(null=True, verbose_name="quarter hour from"),
        ),
        migrations.AlterField(model_name="intakecounter", name="day", field=models.DateField(null=True)),
        migrations.RunPython(counters_to_slots, slots_to_counters),
        migrations.RemoveField(model_name="intakecounter", name="day"),
        migrations.AlterField(
            model_name="intakecounter", name="slot",
            field=models.DateTimeField(verbose_name="quarter hour from"),
        ),
        migrations.AddConstraint(
            model_name="intakecounter",
            constraint=models.UniqueConstraint(fields=("slot", "site", "kind"), name="intake_counter_slot_unique"),
        ),
        migrations.AddConstraint(
            model_name="intakecounter",
            constraint=models.UniqueConstraint(condition=models.Q(("site", None)), fields=("slot", "kind"),
                                               name="intake_counter_slot_unique_nosite"),
        ),
    ]
