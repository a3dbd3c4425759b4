
import django.db.models.deletion
import django.utils.timezone
import leads.models
from django.db import migrations, models


def _fill_widget_keys(apps, schema_editor):
    Site = apps.get_model("leads", "Site")
    for site in Site.objects.filter(widget_key__isnull=True):
        site.widget_key = leads.models._new_widget_key()
        site.save(update_fields=["widget_key"])


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0015_site_disclosure_opt_out_retention'),
    ]

    operations = [
        migrations.AddField(
            model_name='site',
            name='form_field_map',
            field=models.JSONField(blank=True, default=dict, help_text='Which posted field is which, for a form builder whose names we do not know, e.g. {"phone": "Ваш телефон", "name": "fio_client", "order_amount": "total", "submission_id": "entry_id"}. Names are matched ignoring case.', validators=[leads.models._validate_form_field_map], verbose_name='form field mapping'),
        ),
        # Each existing site gets a key of its own: added empty, filled, then made unique.
        migrations.AddField(model_name='site', name='widget_key', field=models.CharField(max_length=32, null=True)),
        migrations.RunPython(_fill_widget_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='site',
            name='widget_key',
            field=models.CharField(default=leads.models._new_widget_key, help_text="Public: names the site in the callback widget's snippet. It cannot post as the site.", max_length=32, unique=True, verbose_name='widget key'),
        ),
        migrations.CreateModel(
            name='SubmissionKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('lead', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='submission_keys', to='leads.lead')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='leads.site')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('site', 'key'), name='submission_key_unique')],
            },
        ),
    ]
