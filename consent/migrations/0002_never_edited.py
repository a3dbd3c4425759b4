"""The database's own guard: every UPDATE of a consent text or proof fails, whoever sends it.

On SQLite, Django rebuilds a table to alter it (copy, drop, rename), which drops its triggers: a later
migration that alters either table must create these triggers again (tests/consent/test_proof.py
fails if they are missing).
"""

from django.db import migrations

TABLES = {"consent_consenttext": "consent_text_never_edited", "consent_consentproof": "consent_proof_never_edited"}

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION consent_never_edited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never edited', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
"""


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(_PG_FUNCTION, params=None)  # its % is plpgsql's, not a placeholder
    for table, trigger in TABLES.items():
        if vendor == "postgresql":
            schema_editor.execute(f"CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} "
                                  f"FOR EACH ROW EXECUTE PROCEDURE consent_never_edited()")
        elif vendor == "sqlite":
            schema_editor.execute(f"CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} "
                                  f"BEGIN SELECT RAISE(ABORT, '{table} rows are never edited'); END")


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table, trigger in TABLES.items():
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS consent_never_edited()")


class Migration(migrations.Migration):

    dependencies = [("consent", "0001_consent_texts_and_proofs")]

    operations = [migrations.RunPython(create, drop)]
