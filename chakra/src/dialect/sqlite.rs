//! SQLite 3.35+: type affinities, `INTEGER PRIMARY KEY AUTOINCREMENT`, and the table rebuild.
//!
//! SQLite's `ALTER TABLE` can add a plain column, drop a plain column and rename one; it
//! cannot change a column. Everything else uses the rebuild of
//! <https://www.sqlite.org/lang_altertable.html#otheralter>: create the new table under a
//! temporary name, copy the rows, drop the old table, rename the new one, and recreate the
//! indexes. `ALTER TABLE` cannot add or drop a constraint either, so AddConstraint and
//! RemoveConstraint are rebuilds too; the new table is created with every constraint of the
//! model, so any rebuild keeps them. Other tables refer to the table by name, so their
//! foreign keys keep working. The executor turns `PRAGMA foreign_keys` off around the
//! migration and runs `PRAGMA foreign_key_check` before commit
//! ([`OperationSql::rebuilds_table`]).

use crate::state::{FieldState, FieldType, ModelState};

use super::WhenEmpty;
use super::common::{
    ColumnUse, Dialect, ModelChange, check_field_common, constraint_of, field_of, fk_name,
    has_unique, is_constant_literal, is_single_primary_key, parenthesize,
};
use super::postgres::decimal_params;
use super::{DialectError, DialectKind, OperationSql};

/// The SQLite dialect.
pub(crate) struct Sqlite;

/// The temporary name of a table being rebuilt.
pub fn rebuild_table_name(table: &str) -> String {
    format!("_chakra_new_{table}")
}

/// `CURRENT_TIME`, `CURRENT_DATE` and `CURRENT_TIMESTAMP`: the only defaults besides literals
/// that SQLite accepts without parentheses.
fn is_current_keyword(expr: &str) -> bool {
    let e = expr.trim().to_ascii_uppercase();
    matches!(
        e.as_str(),
        "CURRENT_TIME" | "CURRENT_DATE" | "CURRENT_TIMESTAMP"
    )
}

impl Dialect for Sqlite {
    fn kind(&self) -> DialectKind {
        DialectKind::Sqlite
    }

    fn column_type(&self, field: &FieldState) -> Result<String, DialectError> {
        Ok(match field.field_type {
            FieldType::SmallInteger | FieldType::Integer | FieldType::BigInteger => {
                "INTEGER".to_owned()
            }
            FieldType::Float | FieldType::Double => "REAL".to_owned(),
            FieldType::Boolean => "BOOLEAN".to_owned(),
            FieldType::String => match field.max_length {
                Some(n) => format!("VARCHAR({n})"),
                None => "TEXT".to_owned(),
            },
            FieldType::Text
            | FieldType::DateTime
            | FieldType::Timestamp
            | FieldType::Date
            | FieldType::Time
            | FieldType::Uuid
            | FieldType::Json => "TEXT".to_owned(),
            FieldType::Binary => "BLOB".to_owned(),
            FieldType::Decimal => format!("NUMERIC{}", decimal_params(field)),
        })
    }

    fn auto_increment_clause(&self) -> &'static str {
        "AUTOINCREMENT"
    }

    fn db_default_expr(&self, _field: &FieldState, expr: &str) -> String {
        if is_constant_literal(expr) || is_current_keyword(expr) {
            expr.to_owned()
        } else {
            // Any other expression must be in parentheses.
            parenthesize(expr)
        }
    }

    fn check_field(&self, model: &ModelState, field: &FieldState) -> Result<(), DialectError> {
        check_field_common(self, model, field)?;
        if field.auto_increment && !is_single_primary_key(model, field) {
            return Err(self.unsupported(format!(
                "auto-increment `{}.{}`: only a single-column INTEGER PRIMARY KEY can; remove `auto_increment` or make it the only primary key field",
                model.name, field.name
            )));
        }
        Ok(())
    }

    fn column_def(
        &self,
        model: &ModelState,
        field: &FieldState,
        usage: ColumnUse,
    ) -> Result<String, DialectError> {
        self.check_field(model, field)?;
        if field.auto_increment {
            // The rowid alias: exactly `INTEGER PRIMARY KEY`; it is never NULL.
            return Ok(format!(
                "{} INTEGER PRIMARY KEY AUTOINCREMENT",
                self.ident(field.column())
            ));
        }
        let mut parts = vec![self.ident(field.column()), self.column_type(field)?];
        if !field.nullable {
            parts.push("NOT NULL".to_owned());
        }
        if let Some(expr) = self.default_expr(field)? {
            parts.push(format!("DEFAULT {expr}"));
        }
        if usage == ColumnUse::CreateTable && is_single_primary_key(model, field) {
            parts.push("PRIMARY KEY".to_owned());
        }
        if has_unique(model, field) {
            parts.push("UNIQUE".to_owned());
        }
        Ok(parts.join(" "))
    }

    fn inline_unique(&self, _model: &ModelState, _field: &FieldState) -> Option<String> {
        Some("UNIQUE".to_owned())
    }

    fn change_primary_key(&self, change: &ModelChange<'_>) -> Result<Vec<String>, DialectError> {
        Err(self.unsupported(format!(
            "change the primary key of `{}` in place (the table is rebuilt instead)",
            change.before.name
        )))
    }

    fn add_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let model = change.after;
        let field = field_of(model, name)?;
        if self.add_column_blocker(model, field)?.is_some() {
            return self.rebuild(change, self.copy_every_column(change.before), Vec::new());
        }
        let mut def = self.column_def(model, field, ColumnUse::AddColumn)?;
        if let Some(fk) = &field.foreign_key {
            def.push_str(&format!(
                " CONSTRAINT {} {}",
                self.ident(&fk_name(&model.table, field.column())),
                self.references(fk)
            ));
        }
        Ok(OperationSql::new(vec![
            self.alter_table(&model.table, &format!("ADD COLUMN {def}")),
        ]))
    }

    fn remove_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let field = field_of(change.before, name)?;
        // DROP COLUMN refuses a key column; indexes on the column are dropped by DropIndex
        // operations before this one.
        if field.primary_key || field.unique || field.foreign_key.is_some() {
            return self.rebuild(change, self.copy_every_column(change.after), Vec::new());
        }
        Ok(OperationSql::new(vec![self.alter_table(
            &change.before.table,
            &format!("DROP COLUMN {}", self.ident(field.column())),
        )]))
    }

    fn add_constraint(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        constraint_of(change.after, name)?;
        // Copying the rows into the new table checks them against the constraint: a row that
        // violates it fails the migration, which then leaves nothing behind.
        self.rebuild(change, self.copy_every_column(change.after), Vec::new())
    }

    fn remove_constraint(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        constraint_of(change.before, name)?;
        self.rebuild(change, self.copy_every_column(change.after), Vec::new())
    }

    fn alter_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let (old, new) = (
            field_of(change.before, name)?,
            field_of(change.after, name)?,
        );
        self.check_field(change.after, new)?;
        change.check_primary_key_change(self)?;
        let table = change.table();
        let mut first = Vec::new();
        // RENAME COLUMN also rewrites the foreign keys of other tables that point at the
        // column, which a rebuild of this table cannot reach.
        let mut renamed_before = change.before.clone();
        if old.column() != new.column() {
            first.push(self.alter_table(
                table,
                &format!(
                    "RENAME COLUMN {} TO {}",
                    self.ident(old.column()),
                    self.ident(new.column())
                ),
            ));
            if let Some(f) = renamed_before.fields.iter_mut().find(|f| f.name == name) {
                f.column = new.column.clone();
            }
        }
        if self.create_table(&renamed_before, table)? == self.create_table(change.after, table)? {
            return Ok(OperationSql::new(first));
        }
        let mut copies = Vec::new();
        for f in &change.after.fields {
            let col = self.ident(f.column());
            let expr = match self.default_expr(f)? {
                // Rows holding NULL take the default, as UPDATE ... WHERE IS NULL does on the
                // other databases.
                Some(default) if f.name == name && old.nullable && !new.nullable => {
                    format!("COALESCE({col}, {default})")
                }
                _ => col,
            };
            copies.push((f.column().to_owned(), expr));
        }
        self.rebuild(change, copies, first)
    }
}

impl Sqlite {
    /// Rebuild copies of every column of `model` as it is: `(column, "column")`.
    fn copy_every_column(&self, model: &ModelState) -> Vec<(String, String)> {
        model
            .fields
            .iter()
            .map(|f| (f.column().to_owned(), self.ident(f.column())))
            .collect()
    }

    /// Why `ALTER TABLE ... ADD COLUMN` cannot add `field` (see the SQLite documentation of
    /// ADD COLUMN), or `None` when it can.
    fn add_column_blocker(
        &self,
        model: &ModelState,
        field: &FieldState,
    ) -> Result<Option<&'static str>, DialectError> {
        let default = self.default_expr(field)?;
        let null_default = default
            .as_deref()
            .is_none_or(|d| d.eq_ignore_ascii_case("NULL"));
        Ok(if field.primary_key {
            Some("a PRIMARY KEY column")
        } else if has_unique(model, field) {
            Some("a UNIQUE column")
        } else if !field.nullable && null_default {
            Some("NOT NULL without a default")
        } else if field
            .db_default
            .as_deref()
            .is_some_and(|e| !is_constant_literal(e))
        {
            Some("a default that is not a constant")
        } else if field.foreign_key.is_some() && !null_default {
            Some("a foreign key with a default other than NULL")
        } else {
            None
        })
    }

    /// The table rebuild: `copies` are `(column in the new table, expression over the old
    /// table)`; `first` runs before it.
    fn rebuild(
        &self,
        change: &ModelChange<'_>,
        copies: Vec<(String, String)>,
        first: Vec<String>,
    ) -> Result<OperationSql, DialectError> {
        let after = change.after;
        let table = &after.table;
        let tmp = rebuild_table_name(table);
        let mut empty = first.clone();
        let mut s = first;
        s.push(self.create_table(after, &tmp)?);
        if !copies.is_empty() {
            let cols: Vec<&str> = copies.iter().map(|(c, _)| c.as_str()).collect();
            let exprs: Vec<&str> = copies.iter().map(|(_, e)| e.as_str()).collect();
            s.push(format!(
                "INSERT INTO {} ({}) SELECT {} FROM {}",
                self.ident(&tmp),
                self.ident_list(&cols),
                exprs.join(", "),
                self.ident(table)
            ));
        }
        let autoincrement = |m: &ModelState| m.fields.iter().any(|f| f.auto_increment);
        if autoincrement(change.before) && autoincrement(after) {
            // Keep AUTOINCREMENT's high-water mark, so ids of deleted rows are not reused.
            s.push(format!(
                "DELETE FROM \"sqlite_sequence\" WHERE \"name\" = {}",
                self.string(&tmp)
            ));
            s.push(format!(
                "INSERT INTO \"sqlite_sequence\" (\"name\", \"seq\") SELECT {}, \"seq\" FROM \"sqlite_sequence\" WHERE \"name\" = {}",
                self.string(&tmp),
                self.string(table)
            ));
        }
        s.push(format!("DROP TABLE {}", self.ident(table)));
        s.push(self.alter_table(&tmp, &format!("RENAME TO {}", self.ident(table))));
        // Without rows: drop the table and create it anew, keeping AUTOINCREMENT's
        // high-water mark under another name meanwhile (DROP TABLE deletes it).
        let keep_sequence = autoincrement(change.before) && autoincrement(after);
        let sequence_name = |from: &str, to: &str| {
            format!(
                "UPDATE \"sqlite_sequence\" SET \"name\" = {} WHERE \"name\" = {}",
                self.string(to),
                self.string(from)
            )
        };
        if keep_sequence {
            empty.push(sequence_name(table, &tmp));
        }
        empty.push(format!("DROP TABLE {}", self.ident(table)));
        empty.push(self.create_table(after, table)?);
        if keep_sequence {
            empty.push(sequence_name(&tmp, table));
        }
        for index in &after.indexes {
            s.push(self.create_index(after, index)?);
            empty.push(self.create_index(after, index)?);
        }
        Ok(OperationSql {
            statements: s,
            rebuilds_table: true,
            outside_transaction: false,
            when_empty: Some(WhenEmpty {
                table: change.before.table.clone(),
                statements: empty,
            }),
        })
    }
}
