"""The fixed retry (calls per lead, minutes between calls) becomes a call cadence; voicemail per site.

A site that had changed the old settings keeps exactly what they did (N calls, M minutes apart); a site
still on the old defaults (3 calls, 20 minutes) gets the new default cadence."""

import leads.models
from django.db import migrations, models

OLD_DEFAULTS = (3, 20)


def retry_to_cadence(apps, schema_editor):
    from telephony.cadence import DEFAULT_CADENCE, cadence_from_retry

    Site = apps.get_model("leads", "Site")
    for site in Site.objects.only("pk", "call_max_attempts", "call_retry_minutes"):
        old = (site.call_max_attempts, site.call_retry_minutes)
        cadence = DEFAULT_CADENCE if old == OLD_DEFAULTS else cadence_from_retry(*old)
        Site.objects.filter(pk=site.pk).update(call_cadence=cadence)


def cadence_to_retry(apps, schema_editor):
    """Back: the number of calls, and the first delay's minutes when it is a plain elapsed time."""
    from telephony.cadence import CadenceError, parse_cadence

    Site = apps.get_model("leads", "Site")
    for site in Site.objects.only("pk", "call_cadence"):
        try:
            cadence = parse_cadence(site.call_cadence)
        except CadenceError:
            continue
        step = cadence.delays[1].elapsed if cadence.calls > 1 else None
        minutes = int(step.total_seconds() // 60) if step else 20
        Site.objects.filter(pk=site.pk).update(call_max_attempts=cadence.calls, call_retry_minutes=max(1, minutes))


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0018_site_call_mode'),
    ]

    operations = [
        migrations.AddField(
            model_name='lead',
            name='call_skips',
            field=models.PositiveSmallIntegerField(default=0, verbose_name='calls skipped'),
        ),
        migrations.AddField(
            model_name='site',
            name='call_cadence',
            field=models.CharField(default=leads.models._default_cadence, help_text="Delays before each call, comma separated: 0 (the first call, at once), 5m, 2h, 1d, next day 10:00, +2d 17:00. The number of items is the number of calls. Each call still waits for the calling hours and the lead's local window.", max_length=300, validators=[leads.models._validate_cadence], verbose_name='call cadence (no answer)'),
        ),
        migrations.AddField(
            model_name='site',
            name='call_cadence_busy',
            field=models.CharField(blank=True, help_text='Blank: the cadence above.', max_length=300, validators=[leads.models._validate_cadence], verbose_name='call cadence after busy'),
        ),
        migrations.AddField(
            model_name='site',
            name='call_cadence_voicemail',
            field=models.CharField(blank=True, help_text='Blank: the cadence above.', max_length=300, validators=[leads.models._validate_cadence], verbose_name='call cadence after voicemail'),
        ),
        migrations.AddField(
            model_name='site',
            name='voicemail_action',
            field=models.CharField(choices=[('hang_up', 'hang up'), ('message', "leave the call's recording after the beep"), ('recording', 'leave the voicemail recording after the beep')], default='hang_up', help_text='What the call does when an answering machine answers (detected by the scenario).', max_length=12, verbose_name='on voicemail'),
        ),
        migrations.AddField(
            model_name='site',
            name='voicemail_url',
            field=models.URLField(blank=True, help_text='An mp3/wav left after the beep when "leave the voicemail recording" is chosen.', max_length=500, verbose_name='voicemail recording URL'),
        ),
        migrations.RunPython(retry_to_cadence, cadence_to_retry),
        migrations.RemoveField(
            model_name='site',
            name='call_max_attempts',
        ),
        migrations.RemoveField(
            model_name='site',
            name='call_retry_minutes',
        ),
    ]
