from django.db import migrations, models
import django.db.models.deletion


def site_from_lead(apps, schema_editor):
    """Each attempt so far takes its lead's site now: the site it was dialled for, unless someone has moved
    the lead to another site in the admin since (nothing kept says which one it was then)."""
    CallAttempt = apps.get_model("telephony", "CallAttempt")
    Lead = apps.get_model("leads", "Lead")
    CallAttempt.objects.update(site_id=models.Subquery(Lead.objects.filter(pk=models.OuterRef("lead_id"))
                                                       .values("site_id")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0019_site_call_cadence_voicemail'),
        ('telephony', '0008_attempt_sellers_offered'),
    ]

    operations = [
        migrations.AddField(
            model_name='callattempt',
            name='site',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name='+', to='leads.site', verbose_name='site'),
        ),
        migrations.RunPython(site_from_lead, migrations.RunPython.noop),
    ]
