"""Fewer indexes for every write of a lead's rows, as leads/migrations/0020_fewer_indexes_per_write.py."""

import django.db.models.deletion
from django.db import migrations, models

from leadcaller.migration_ops import index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0020_fewer_indexes_per_write'),
        ('sellers', '0002_group_permissions'),
        ('telephony', '0010_attempt_site_required'),
    ]

    operations = [
        index_dropped(migrations.AlterField(model_name='callattempt', name='lead', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='call_attempts', to='leads.lead')),
                      table='telephony_callattempt', column='lead_id', index='telephony_callattempt_lead_id_e6eb4bc9'),
        index_dropped(migrations.AlterField(model_name='callattempt', name='seller', field=models.ForeignKey(blank=True, db_index=False, help_text='Who talked to the lead on this call.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='sellers.seller', verbose_name='seller')),
                      table='telephony_callattempt', column='seller_id', index='telephony_callattempt_seller_id_ead56857'),
        index_dropped(migrations.AlterField(model_name='callattempt', name='session_id', field=models.BigIntegerField(blank=True, null=True, verbose_name='call session history id')),
                      table='telephony_callattempt', column='session_id', index='telephony_callattempt_session_id_f48b2abe'),
        migrations.AddIndex(
            model_name='callattempt',
            index=models.Index(condition=models.Q(('session_id__isnull', False)), fields=['session_id'], name='callattempt_session'),
        ),
        migrations.AddIndex(
            model_name='callattempt',
            index=models.Index(condition=models.Q(('seller__isnull', False)), fields=['seller'], name='callattempt_seller'),
        ),
    ]
