"""Migration operations done the way a pager that keeps taking events needs them done."""

from django.db import migrations


class DropForeignKeyIndex(migrations.AlterField):
    """AlterField of a foreign key to db_index=False, done as a DROP INDEX and nothing else.

    Django's own AlterField drops the foreign key constraint and adds it back around the index
    change; on PostgreSQL adding it back checks every row under a lock that holds off writes to the
    table for as long as that takes (the timeline has a row per event). The constraint does not
    change, so only the index goes, CONCURRENTLY on PostgreSQL: the migration must say
    `atomic = False`. Backwards builds the index again under the name Django gave it (IF NOT EXISTS, so
    a backwards run that stopped half-way can be run again)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            name, _ = self._index(schema_editor, model)
            schema_editor.execute(f"DROP INDEX {self._concurrently(schema_editor)}IF EXISTS {name}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            name, column = self._index(schema_editor, model)
            table = schema_editor.quote_name(model._meta.db_table)
            create = f"CREATE INDEX {self._concurrently(schema_editor)}IF NOT EXISTS"
            schema_editor.execute(f"{create} {name} ON {table} ({column})")

    def _index(self, schema_editor, model):
        """The quoted name Django gives a foreign key's index (the schema editor's, for every
        database), and the quoted column."""
        column = model._meta.get_field(self.name).column
        name = schema_editor._create_index_name(model._meta.db_table, [column])  # noqa: SLF001
        return schema_editor.quote_name(name), schema_editor.quote_name(column)

    @staticmethod
    def _concurrently(schema_editor):
        return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""

    def describe(self):
        return f"Drop the index of {self.model_name}.{self.name} (the foreign key stays)"
