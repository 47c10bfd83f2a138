//! MySQL 8 and MariaDB: `information_schema`, for the tables of `DATABASE()`. Every text
//! column is cast to CHAR: MariaDB returns some of them as binary strings.
//!
//! A UNIQUE constraint is an index on these databases, so UNIQUE keys are reported as
//! indexes. The two differ in how they report defaults, normalized here to SQL text:
//! MariaDB quotes string literals (`'draft'`) and spells a missing default of a nullable
//! column `NULL`; MySQL shows literals unquoted and marks expression defaults
//! `DEFAULT_GENERATED`. MariaDB declares a JSON column as LONGTEXT with a column CHECK
//! `json_valid(col)` named after the column; that CHECK is left out.

use sqlx::Row;
use sqlx::mysql::MySqlConnection;

use super::{Check, Column, ForeignKey, Index, Schema, Table, rule};

const TABLES: &str = "\
    SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
    WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1";

const COLUMNS: &str = "\
    SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(column_type AS CHAR), \
           CAST(is_nullable AS CHAR), CAST(column_default AS CHAR), CAST(extra AS CHAR) \
    FROM information_schema.columns WHERE table_schema = DATABASE() \
    ORDER BY table_name, ordinal_position";

const INDEXES: &str = "\
    SELECT CAST(table_name AS CHAR), CAST(index_name AS CHAR), CAST(non_unique AS SIGNED), \
           CAST(column_name AS CHAR) \
    FROM information_schema.statistics WHERE table_schema = DATABASE() \
    ORDER BY table_name, index_name, seq_in_index";

const FOREIGN_KEYS: &str = "\
    SELECT CAST(k.table_name AS CHAR), CAST(k.constraint_name AS CHAR), CAST(k.column_name AS CHAR), \
           CAST(k.referenced_table_name AS CHAR), CAST(k.referenced_column_name AS CHAR), \
           CAST(r.delete_rule AS CHAR), CAST(r.update_rule AS CHAR) \
    FROM information_schema.key_column_usage k \
    JOIN information_schema.referential_constraints r \
      ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name \
     AND r.table_name = k.table_name \
    WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL \
    ORDER BY k.table_name, k.constraint_name, k.ordinal_position";

/// MariaDB's CHECK constraints carry their table and level.
const MARIADB_CHECKS: &str = "\
    SELECT CAST(table_name AS CHAR), CAST(constraint_name AS CHAR), CAST(check_clause AS CHAR), \
           CAST(level AS CHAR) \
    FROM information_schema.check_constraints WHERE constraint_schema = DATABASE() \
    ORDER BY 1, 2";

/// MySQL's CHECK constraints are named per schema; the table comes from table_constraints.
const MYSQL_CHECKS: &str = "\
    SELECT CAST(tc.table_name AS CHAR), CAST(cc.constraint_name AS CHAR), CAST(cc.check_clause AS CHAR), \
           CAST('Table' AS CHAR) \
    FROM information_schema.table_constraints tc \
    JOIN information_schema.check_constraints cc \
      ON cc.constraint_schema = tc.constraint_schema AND cc.constraint_name = tc.constraint_name \
    WHERE tc.table_schema = DATABASE() AND tc.constraint_type = 'CHECK' \
    ORDER BY 1, 2";

/// Reads every base table of the current database.
pub(crate) async fn read(conn: &mut MySqlConnection) -> Result<Schema, sqlx::Error> {
    let version: String = sqlx::query("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let mariadb = version.to_ascii_lowercase().contains("mariadb");
    let mut schema = Schema::default();
    for r in sqlx::query(TABLES).fetch_all(&mut *conn).await? {
        schema.tables.insert(r.try_get(0)?, Table::default());
    }
    for r in sqlx::query(COLUMNS).fetch_all(&mut *conn).await? {
        let Some(table) = schema.tables.get_mut(&r.try_get::<String, _>(0)?) else {
            continue;
        };
        let data_type: String = r.try_get(2)?;
        let extra = r
            .try_get::<Option<String>, _>(5)?
            .unwrap_or_default()
            .to_ascii_lowercase();
        let raw: Option<String> = r.try_get(4)?;
        let default = match raw {
            None => None,
            Some(d) if mariadb => (!d.eq_ignore_ascii_case("NULL")).then_some(d),
            // MySQL: an expression default is marked; a literal is shown without quotes.
            Some(d) if extra.contains("default_generated") => Some(d),
            Some(d) if is_numeric_type(&data_type) => Some(d),
            Some(d) => Some(format!("'{}'", d.replace('\\', "\\\\").replace('\'', "''"))),
        };
        table.columns.push(Column {
            name: r.try_get(1)?,
            nullable: r.try_get::<String, _>(3)? == "YES",
            default,
            auto_increment: extra.contains("auto_increment"),
            data_type,
        });
    }
    for r in sqlx::query(INDEXES).fetch_all(&mut *conn).await? {
        let Some(table) = schema.tables.get_mut(&r.try_get::<String, _>(0)?) else {
            continue;
        };
        let name: String = r.try_get(1)?;
        let column = r
            .try_get::<Option<String>, _>(3)?
            .unwrap_or_else(|| "<expression>".to_owned());
        if name == "PRIMARY" {
            table.primary_key.push(column);
            continue;
        }
        match table.indexes.last_mut() {
            Some(last) if last.name == name => last.columns.push(column),
            _ => table.indexes.push(Index {
                name,
                columns: vec![column],
                unique: r.try_get::<i64, _>(2)? == 0,
            }),
        }
    }
    for r in sqlx::query(FOREIGN_KEYS).fetch_all(&mut *conn).await? {
        let Some(table) = schema.tables.get_mut(&r.try_get::<String, _>(0)?) else {
            continue;
        };
        let name: String = r.try_get(1)?;
        let column: String = r.try_get(2)?;
        let ref_column: String = r.try_get(4)?;
        match table.foreign_keys.last_mut() {
            Some(last) if last.name.as_deref() == Some(name.as_str()) => {
                last.columns.push(column);
                last.ref_columns.push(ref_column);
            }
            _ => table.foreign_keys.push(ForeignKey {
                name: Some(name),
                columns: vec![column],
                ref_table: r.try_get(3)?,
                ref_columns: vec![ref_column],
                on_delete: rule(&r.try_get::<String, _>(5)?),
                on_update: rule(&r.try_get::<String, _>(6)?),
            }),
        }
    }
    let checks = if mariadb {
        MARIADB_CHECKS
    } else {
        MYSQL_CHECKS
    };
    for r in sqlx::query(checks).fetch_all(&mut *conn).await? {
        let Some(table) = schema.tables.get_mut(&r.try_get::<String, _>(0)?) else {
            continue;
        };
        let name: String = r.try_get(1)?;
        let expr: String = r.try_get(2)?;
        let level: String = r.try_get(3)?;
        if level.eq_ignore_ascii_case("column") && is_json_check(&name, &expr) {
            continue;
        }
        table.checks.push(Check {
            name: Some(name),
            expr,
        });
    }
    Ok(schema)
}

/// Types whose literal defaults MySQL shows as numbers.
fn is_numeric_type(ty: &str) -> bool {
    let t = ty.to_ascii_lowercase();
    [
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "bigint",
        "decimal",
        "numeric",
        "float",
        "double",
        "real",
        "bit",
        "bool",
    ]
    .iter()
    .any(|n| t.starts_with(n))
}

/// MariaDB's own CHECK of a JSON column: `json_valid(`col`)`, named after the column.
fn is_json_check(name: &str, expr: &str) -> bool {
    let e: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let quoted = format!("json_valid(`{}`)", name.replace('`', "``"));
    e.eq_ignore_ascii_case(&quoted) || e.eq_ignore_ascii_case(&format!("json_valid({name})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_mariadb_json_checks_and_numeric_types() {
        assert!(is_json_check("data", "json_valid(`data`)"));
        assert!(!is_json_check("data", "json_valid(`other`)"));
        assert!(is_numeric_type("bigint(20) unsigned"));
        assert!(!is_numeric_type("varchar(20)"));
    }
}
