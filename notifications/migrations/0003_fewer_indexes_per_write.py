"""Fewer indexes for every write of a lead's rows, as leads/migrations/0020_fewer_indexes_per_write.py."""

import django.db.models.deletion
from django.db import migrations, models

from leadcaller.migration_ops import index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0020_fewer_indexes_per_write'),
        ('notifications', '0002_notification_sent_digest'),
    ]

    operations = [
        index_dropped(migrations.AlterField(model_name='notification', name='chat', field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='notifications', to='notifications.telegramchat')),
                      table='notifications_notification', column='chat_id', index='notifications_notification_chat_id_39a53d49'),
        index_dropped(migrations.AlterField(model_name='notification', name='digest', field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='cards', to='notifications.notification')),
                      table='notifications_notification', column='digest_id', index='notifications_notification_digest_id_c54845ff'),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(condition=models.Q(('digest__isnull', False)), fields=['digest'], name='notification_digest'),
        ),
    ]
