from django.db import migrations, models


def console_keys_are_team_keys(apps, schema_editor):
    # `manage.py up` made the console's key under the name "console" before keys had a kind: it is
    # the key a whole team shares, and was capped like a single script's.
    apps.get_model("engine", "ApiKey").objects.filter(name="console", scope="admin").update(team=True)


class Migration(migrations.Migration):
    dependencies = [("engine", "0006_runtime_metadata")]

    operations = [
        migrations.AddField(model_name="apikey", name="team", field=models.BooleanField(default=False)),
        migrations.RunPython(console_keys_are_team_keys, migrations.RunPython.noop),
        migrations.AddField(
            model_name="runtime", name="requested_mounts", field=models.JSONField(blank=True, null=True)
        ),
    ]
