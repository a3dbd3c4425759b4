from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    # Its own migration: PostgreSQL will not alter a table in the transaction that updated its rows'
    # deferred foreign keys (0009's backfill).

    dependencies = [
        ('telephony', '0009_attempt_site'),
    ]

    operations = [
        migrations.AlterField(
            model_name='callattempt',
            name='site',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+',
                                    to='leads.site', verbose_name='site'),
        ),
        migrations.AddIndex(
            model_name='callattempt',
            index=models.Index(fields=['site', 'created_at'], name='callattempt_site_created'),
        ),
    ]
