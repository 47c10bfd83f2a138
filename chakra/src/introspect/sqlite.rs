//! SQLite: `sqlite_master` and the table-valued pragmas. CHECK constraints and
//! `AUTOINCREMENT` are read from the `CREATE TABLE` text SQLite keeps (no pragma reports
//! them). SQLite keeps the names of UNIQUE constraints and foreign keys only in that text,
//! where a table rename leaves the old ones, so they are reported without names.

use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::sql::parse_create_table;
use super::{Column, ForeignKey, Index, Schema, Table, Unique, rule};

/// Reads every table except SQLite's own (`sqlite_sequence`, `sqlite_stat1`, ...).
pub(crate) async fn read(conn: &mut SqliteConnection) -> Result<Schema, sqlx::Error> {
    let tables = sqlx::query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut schema = Schema::default();
    for t in &tables {
        let name: String = t.try_get(0)?;
        let sql: Option<String> = t.try_get(1)?;
        let parsed = parse_create_table(sql.as_deref().unwrap_or(""));
        let mut table = Table::default();

        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in sqlx::query(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await?
        {
            let column: String = c.try_get(0)?;
            let key: i64 = c.try_get(4)?;
            if key > 0 {
                pk.push((key, column.clone()));
            }
            table.columns.push(Column {
                data_type: c.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                nullable: c.try_get::<i64, _>(2)? == 0 && key == 0,
                default: c.try_get(3)?,
                auto_increment: parsed.autoincrement.contains(&column),
                name: column,
            });
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, c)| c).collect();

        for i in sqlx::query("SELECT name, \"unique\", origin FROM pragma_index_list(?)")
            .bind(&name)
            .fetch_all(&mut *conn)
            .await?
        {
            let index: String = i.try_get(0)?;
            let unique = i.try_get::<i64, _>(1)? != 0;
            let origin: String = i.try_get(2)?;
            let columns: Vec<String> =
                sqlx::query("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| {
                        r.try_get::<Option<String>, _>(0)
                            .map(|c| c.unwrap_or_else(|| "<expression>".to_owned()))
                    })
                    .collect::<Result<_, _>>()?;
            match origin.as_str() {
                // The primary key's own index (a non-integer or composite key).
                "pk" => {}
                "u" => table.uniques.push(Unique {
                    name: None,
                    columns,
                }),
                _ => table.indexes.push(Index {
                    name: index,
                    columns,
                    unique,
                }),
            }
        }
        table.indexes.sort_by(|a, b| a.name.cmp(&b.name));

        let mut fks: Vec<(i64, ForeignKey)> = Vec::new();
        for f in sqlx::query(
            "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await?
        {
            let id: i64 = f.try_get(0)?;
            let from: String = f.try_get(2)?;
            let to: Option<String> = f.try_get(3)?;
            match fks.last_mut() {
                Some((last, fk)) if *last == id => {
                    fk.columns.push(from);
                    fk.ref_columns.extend(to);
                }
                _ => fks.push((
                    id,
                    ForeignKey {
                        name: None,
                        columns: vec![from],
                        ref_table: f.try_get(1)?,
                        ref_columns: to.into_iter().collect(),
                        on_delete: rule(&f.try_get::<String, _>(5)?),
                        on_update: rule(&f.try_get::<String, _>(4)?),
                    },
                )),
            }
        }
        for (_, mut fk) in fks {
            // `REFERENCES t` without columns means t's primary key.
            if fk.ref_columns.is_empty() {
                fk.ref_columns = primary_key_of(conn, &fk.ref_table).await?;
            }
            table.foreign_keys.push(fk);
        }
        table.checks = parsed.checks;
        schema.tables.insert(name, table);
    }
    Ok(schema)
}

async fn primary_key_of(
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk")
        .bind(table)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect()
}
