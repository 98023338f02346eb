from django.db import migrations, models


def forget_plaintext_responses(apps, schema_editor):
    # Replays are a convenience for retries; records written before this held responses in
    # plaintext (execute results may carry vault.read output), so they are dropped, not converted.
    apps.get_model("engine", "IdempotencyRecord").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("engine", "0004_runtime_stop_reason_api_key_last_used")]

    operations = [
        migrations.RunPython(forget_plaintext_responses, migrations.RunPython.noop),
        migrations.RemoveField(model_name="idempotencyrecord", name="response_body"),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="response_ciphertext",
            field=models.BinaryField(default=b""),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
    ]
