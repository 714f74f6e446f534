"""Indexes for alias search and for the paged alias grid, one kind per database.

- SQLite: an FTS5 table with the trigram tokenizer, kept in step with aliases_alias
  by triggers (the importer drops the insert trigger around its bulk insert and
  indexes the new rows in one pass). It is contentless: the text lives only in
  aliases_alias.
- PostgreSQL: a pg_trgm GIN index on the same searchable text.
- MariaDB/MySQL: no text index; search falls back to LIKE.

Every database also gets an index that lists a domain's live aliases in file
(id) order, so the first page of a 500,000-alias domain needs no sort.

The searchable text is key, destinations and comment joined by a newline: search
words never contain whitespace, so no word can match across two fields.
The SQL is written out here (not imported) so this migration keeps meaning what
it meant when it ran; aliasdesk.aliases.search uses the same names.
"""

from django.db import migrations

FTS = "aliases_alias_search"
# The domain as two private-use characters between U+F8FF marks: a token no typed word
# contains, so a search can ask the index for one domain's rows only.
BODY = (
    "char(63743, 57344 + ({row}.domain_id / 4096) % 4096, 57344 + {row}.domain_id % 4096, 63743)"
    " || char(10) || {row}.\"key\" || char(10) || {row}.destinations || char(10) || {row}.comment"
)

SQLITE_FORWARD = [
    # detail=none keeps only which rows hold a trigram, not where: the index is a third of
    # the size and an import's indexing three times quicker. A search asks for rows holding
    # every trigram of a word, then checks the word itself on those rows.
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(body, content='', detail=none, columnsize=0, tokenize='trigram')",
    f"""CREATE TRIGGER {FTS}_insert AFTER INSERT ON aliases_alias BEGIN
        INSERT INTO {FTS}(rowid, body) VALUES (new.id, {BODY.format(row='new')});
    END""",
    f"""CREATE TRIGGER {FTS}_delete AFTER DELETE ON aliases_alias BEGIN
        INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.id, {BODY.format(row='old')});
    END""",
    f"""CREATE TRIGGER {FTS}_update AFTER UPDATE OF domain_id, "key", destinations, comment ON aliases_alias
    WHEN old.domain_id IS NOT new.domain_id OR old."key" IS NOT new."key"
      OR old.destinations IS NOT new.destinations OR old.comment IS NOT new.comment
    BEGIN
        INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.id, {BODY.format(row='old')});
        INSERT INTO {FTS}(rowid, body) VALUES (new.id, {BODY.format(row='new')});
    END""",
    f"INSERT INTO {FTS}(rowid, body) SELECT id, {BODY.format(row='aliases_alias')} FROM aliases_alias",
    "CREATE INDEX alias_live_by_domain ON aliases_alias (domain_id, id) WHERE deleted_at IS NULL",
]
SQLITE_BACKWARD = [
    "DROP INDEX IF EXISTS alias_live_by_domain",
    f"DROP TRIGGER IF EXISTS {FTS}_update",
    f"DROP TRIGGER IF EXISTS {FTS}_delete",
    f"DROP TRIGGER IF EXISTS {FTS}_insert",
    f"DROP TABLE IF EXISTS {FTS}",
]

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE INDEX alias_search_trgm ON aliases_alias
    USING gin (("key" || chr(10) || destinations || chr(10) || comment) gin_trgm_ops)""",
    "CREATE INDEX alias_live_by_domain ON aliases_alias (domain_id, id) WHERE deleted_at IS NULL",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS alias_live_by_domain",
    "DROP INDEX IF EXISTS alias_search_trgm",
]

MYSQL_FORWARD = ["CREATE INDEX alias_live_by_domain ON aliases_alias (domain_id, deleted_at)"]
MYSQL_BACKWARD = ["DROP INDEX alias_live_by_domain ON aliases_alias"]

FORWARD = {"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD, "mysql": MYSQL_FORWARD}
BACKWARD = {"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD, "mysql": MYSQL_BACKWARD}


def create_search_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    for sql in FORWARD.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def drop_search_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    for sql in BACKWARD.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("aliases", "0001_initial"),
    ]

    operations = [
        # Not atomic: MariaDB cannot run DDL inside a transaction (SQLite and PostgreSQL
        # still run the whole migration in one).
        migrations.RunPython(create_search_index, drop_search_index, atomic=False),
    ]
