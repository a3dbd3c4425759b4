"""Fewer indexes for every write of a lead's rows (issue 15: CPU per lead).

A column's own index is dropped where a composite index already leads with the column; a column that
is empty for most rows, or for most of a row's writes, is indexed only where it is set. Only indexes
change: leadcaller/migration_ops.py keeps Django from re-adding the foreign keys (a check of every row).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from leadcaller.migration_ops import index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0019_site_call_cadence_voicemail'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        index_dropped(migrations.AlterField(model_name='lead', name='assigned_to', field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='taken by')),
                      table='leads_lead', column='assigned_to_id', index='leads_lead_assigned_to_id_d7a91e6c'),
        index_dropped(migrations.AlterField(model_name='lead', name='bitrix_lead_id', field=models.PositiveBigIntegerField(blank=True, null=True, verbose_name='Bitrix24 lead id')),
                      table='leads_lead', column='bitrix_lead_id', index='leads_lead_bitrix_lead_id_5ffc5413'),
        index_dropped(migrations.AlterField(model_name='lead', name='partner', field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='leads', to='leads.partner', verbose_name='partner')),
                      table='leads_lead', column='partner_id', index='leads_lead_partner_id_0fa90f5e'),
        index_dropped(migrations.AlterField(model_name='lead', name='site', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='leads', to='leads.site', verbose_name='site')),
                      table='leads_lead', column='site_id', index='leads_lead_site_id_7fe9e579'),
        index_dropped(migrations.AlterField(model_name='leadevent', name='actor', field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL, verbose_name='by')),
                      table='leads_leadevent', column='actor_id', index='leads_leadevent_actor_id_05bf3969'),
        index_dropped(migrations.AlterField(model_name='leadevent', name='lead', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='leads.lead')),
                      table='leads_leadevent', column='lead_id', index='leads_leadevent_lead_id_426caf75'),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(condition=models.Q(('bitrix_lead_id__isnull', False)), fields=['bitrix_lead_id'], name='lead_bitrix_lead'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(condition=models.Q(('assigned_to__isnull', False)), fields=['assigned_to'], name='lead_assigned_to'),
        ),
        migrations.AddIndex(
            model_name='leadevent',
            index=models.Index(condition=models.Q(('actor__isnull', False)), fields=['actor'], name='leadevent_actor'),
        ),
    ]
