"""Alembic environment: runs on the connection handed in by likeness.store.migrate.

The store does not import the rooms' tables (they sit above it). Autogenerating a revision,
or comparing the schema with the tables, passes their metadata in as ``target_metadata``
(``likeness.testing.schema.catalog_metadata``)."""

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=config.attributes.get("target_metadata"),
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
