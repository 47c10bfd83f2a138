//! PostgreSQL: `pg_catalog`, for the tables of `current_schema()` (the schema unqualified
//! names are created in, where Chakra's migrations create theirs).

use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::{Check, Column, ForeignKey, Index, Schema, Table, Unique};

const TABLES: &str = "\
    SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1";

const COLUMNS: &str = "\
    SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
           pg_get_expr(d.adbin, d.adrelid), a.attidentity::text \
    FROM pg_attribute a \
    JOIN pg_class c ON c.oid = a.attrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
    ORDER BY c.relname, a.attnum";

/// Indexes with their key columns (or expressions), and whether they back a primary key,
/// UNIQUE or exclusion constraint.
const INDEXES: &str = "\
    SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indisprimary, \
           EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = ix.indrelid AND k.conindid = ix.indexrelid \
                   AND k.contype IN ('p', 'u', 'x')), \
           ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true) FROM generate_series(1, ix.indnkeyatts::int) AS k ORDER BY k) \
    FROM pg_index ix \
    JOIN pg_class i ON i.oid = ix.indexrelid \
    JOIN pg_class t ON t.oid = ix.indrelid \
    JOIN pg_namespace n ON n.oid = t.relnamespace \
    WHERE n.nspname = current_schema() AND t.relkind IN ('r', 'p') \
    ORDER BY 1, 2";

const CONSTRAINTS: &str = "\
    SELECT t.relname::text, k.conname::text, k.contype::text, \
           ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(num, ord) \
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num ORDER BY u.ord), \
           f.relname::text, \
           ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS u(num, ord) \
                 JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.ord), \
           k.confdeltype::text, k.confupdtype::text, pg_get_constraintdef(k.oid, true) \
    FROM pg_constraint k \
    JOIN pg_class t ON t.oid = k.conrelid \
    JOIN pg_namespace n ON n.oid = t.relnamespace \
    LEFT JOIN pg_class f ON f.oid = k.confrelid \
    WHERE n.nspname = current_schema() AND t.relkind IN ('r', 'p') AND k.contype IN ('u', 'c', 'f') \
    ORDER BY 1, 2";

/// Reads every table of the current schema.
pub(crate) async fn read(conn: &mut PgConnection) -> Result<Schema, sqlx::Error> {
    let mut schema = Schema::default();
    for r in sqlx::query(TABLES).fetch_all(&mut *conn).await? {
        schema.tables.insert(r.try_get(0)?, Table::default());
    }
    for r in sqlx::query(COLUMNS).fetch_all(&mut *conn).await? {
        let Some(table) = schema.tables.get_mut(&r.try_get::<String, _>(0)?) else {
            continue;
        };
        let default: Option<String> = r.try_get(4)?;
        let identity: String = r.try_get(5)?;
        // A `serial` column's default is its sequence: it counts as auto-increment.
        let serial = default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("));
        table.columns.push(Column {
            name: r.try_get(1)?,
            data_type: r.try_get(2)?,
            nullable: !r.try_get::<bool, _>(3)?,
            default: if serial { None } else { default },
            auto_increment: !identity.is_empty() || serial,
        });
    }
    for r in sqlx::query(INDEXES).fetch_all(&mut *conn).await? {
        let Some(table) = schema.tables.get_mut(&r.try_get::<String, _>(0)?) else {
            continue;
        };
        let columns: Vec<String> = r
            .try_get::<Vec<String>, _>(5)?
            .into_iter()
            .map(|c| unquote(&c))
            .collect();
        if r.try_get::<bool, _>(3)? {
            table.primary_key = columns;
        } else if !r.try_get::<bool, _>(4)? {
            table.indexes.push(Index {
                name: r.try_get(1)?,
                columns,
                unique: r.try_get(2)?,
            });
        }
    }
    for r in sqlx::query(CONSTRAINTS).fetch_all(&mut *conn).await? {
        let Some(table) = schema.tables.get_mut(&r.try_get::<String, _>(0)?) else {
            continue;
        };
        let name: String = r.try_get(1)?;
        let columns: Vec<String> = r.try_get(3)?;
        match r.try_get::<String, _>(2)?.as_str() {
            "u" => table.uniques.push(Unique {
                name: Some(name),
                columns,
            }),
            "f" => table.foreign_keys.push(ForeignKey {
                name: Some(name),
                columns,
                ref_table: r.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
                ref_columns: r.try_get(5)?,
                on_delete: action(&r.try_get::<String, _>(6)?),
                on_update: action(&r.try_get::<String, _>(7)?),
            }),
            _ => {
                let def: String = r.try_get(8)?;
                table.checks.push(Check {
                    name: Some(name),
                    expr: check_body(&def),
                });
            }
        }
    }
    Ok(schema)
}

/// `pg_constraint.confdeltype` / `confupdtype` as SQL.
fn action(code: &str) -> String {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
    .to_owned()
}

/// `CHECK (expr) NOT VALID` → `expr`.
fn check_body(def: &str) -> String {
    let d = def.trim();
    let d = d.strip_suffix("NOT VALID").unwrap_or(d).trim_end();
    let d = d.strip_prefix("CHECK").unwrap_or(d).trim();
    match d.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        Some(inner) => inner.trim().to_owned(),
        None => d.to_owned(),
    }
}

/// A column of `pg_get_indexdef`: `"order"` → `order`; other text (a plain name or an
/// expression) as it is.
fn unquote(c: &str) -> String {
    match c.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) if !inner.replace("\"\"", "").contains('"') => inner.replace("\"\"", "\""),
        _ => c.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_check_definitions_and_index_columns() {
        assert_eq!(check_body("CHECK (views >= 0)"), "views >= 0");
        assert_eq!(check_body("CHECK ((a > 0)) NOT VALID"), "(a > 0)");
        assert_eq!(unquote("\"order\""), "order");
        assert_eq!(unquote("lower(title)"), "lower(title)");
    }
}
