//! PostgreSQL: identity columns, named constraints, and `ALTER COLUMN` for every change.

use crate::operations::Operation;
use crate::state::{
    ConstraintKind, FieldState, FieldType, IndexState, ModelState, ProjectState, StateError,
};

use super::common::{
    ColumnUse, Dialect, ModelChange, constraint_of, field_of, fk_name, has_unique, unique_name,
};
use super::{DialectError, DialectKind, OperationSql};

/// The PostgreSQL dialect.
pub(crate) struct Postgres;

/// The name PostgreSQL gives the primary key constraint of `table`: `{table}_pkey`, the table
/// part clipped so the whole fits in 63 bytes (as PostgreSQL's `makeObjectName` does).
pub fn pkey_name(table: &str) -> String {
    let mut cut = table.len().min(63 - "_pkey".len());
    while !table.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_pkey", &table[..cut])
}

/// `(p,s)`, `(p)` or nothing, for a Decimal field.
pub(crate) fn decimal_params(field: &FieldState) -> String {
    match (field.precision, field.scale) {
        (Some(p), Some(s)) => format!("({p},{s})"),
        (Some(p), None) => format!("({p})"),
        _ => String::new(),
    }
}

impl Dialect for Postgres {
    fn kind(&self) -> DialectKind {
        DialectKind::Postgres
    }

    /// Indexes are built and dropped `CONCURRENTLY` (writes go on; a failed build leaves an
    /// invalid index, dropped before the next try); CHECK and foreign key constraints are
    /// added `NOT VALID` (a moment's lock) and then validated, which scans the table
    /// without blocking writes; a UNIQUE constraint takes over a unique index built
    /// concurrently. Every statement commits on its own and can run again after an
    /// interruption.
    fn online_operation(
        &self,
        app: &str,
        op: &Operation,
        _before: &ProjectState,
        after: &ProjectState,
    ) -> Result<Option<OperationSql>, DialectError> {
        let model = |name: &str| {
            after.model(app, name).ok_or_else(|| {
                DialectError::State(StateError::new(format!(
                    "model `{app}.{name}` does not exist"
                )))
            })
        };
        let drop_index =
            |name: &str| format!("DROP INDEX CONCURRENTLY IF EXISTS {}", self.ident(name));
        let build_index = |m: &ModelState, name: &str, fields: &[String], unique: bool| {
            let cols: Vec<&str> = fields.iter().map(|f| m.column_of(f)).collect();
            format!(
                "CREATE {}INDEX CONCURRENTLY {} ON {} ({})",
                if unique { "UNIQUE " } else { "" },
                self.ident(name),
                self.ident(&m.table),
                self.ident_list(&cols)
            )
        };
        let sql = match op {
            Operation::CreateIndex(c) => {
                let m = model(&c.model)?;
                let index = m.index(&c.name).expect("CreateIndex added the index");
                self.check_index(m, index)?;
                vec![
                    drop_index(&index.name),
                    build_index(m, &index.name, &index.fields, index.unique),
                ]
            }
            Operation::DropIndex(d) => vec![drop_index(&d.name)],
            Operation::AddConstraint(a) => {
                let m = model(&a.model)?;
                let c = constraint_of(m, &a.name)?;
                self.check_constraint(m, c)?;
                let name = self.ident(&c.name);
                match &c.kind {
                    ConstraintKind::Check { expr } => vec![
                        self.alter_table(&m.table, &format!("DROP CONSTRAINT IF EXISTS {name}")),
                        self.alter_table(
                            &m.table,
                            &format!("ADD CONSTRAINT {name} CHECK ({}) NOT VALID", expr.trim()),
                        ),
                        self.alter_table(&m.table, &format!("VALIDATE CONSTRAINT {name}")),
                    ],
                    ConstraintKind::Unique { fields } => vec![
                        drop_index(&c.name),
                        build_index(m, &c.name, fields, true),
                        self.alter_table(
                            &m.table,
                            &format!("ADD CONSTRAINT {name} UNIQUE USING INDEX {name}"),
                        ),
                    ],
                }
            }
            // A one-off value goes through the plain path, which adds the column with it as
            // default and then drops the default; this arm runs for the first part.
            Operation::AddField(a) if a.fill.is_none() => {
                let m = model(&a.model)?;
                let field = field_of(m, &a.name)?;
                if field.primary_key || field.foreign_key.is_none() {
                    return Ok(None);
                }
                let column = self.column_def(m, field, ColumnUse::AddColumn)?;
                let mut sql =
                    vec![self.alter_table(&m.table, &format!("ADD COLUMN IF NOT EXISTS {column}"))];
                if has_unique(m, field) && self.inline_unique(m, field).is_none() {
                    sql.push(self.add_unique(m, field));
                }
                let fk = self.ident(&fk_name(&m.table, field.column()));
                sql.push(self.alter_table(&m.table, &format!("DROP CONSTRAINT IF EXISTS {fk}")));
                for c in self.foreign_key_constraints(m, field) {
                    sql.push(self.alter_table(&m.table, &format!("ADD {c} NOT VALID")));
                }
                sql.push(self.alter_table(&m.table, &format!("VALIDATE CONSTRAINT {fk}")));
                sql
            }
            _ => return Ok(None),
        };
        Ok(Some(OperationSql::outside_transaction(sql)))
    }

    fn bool_literal(&self, value: bool) -> &'static str {
        if value { "TRUE" } else { "FALSE" }
    }

    fn column_type(&self, field: &FieldState) -> Result<String, DialectError> {
        Ok(match field.field_type {
            FieldType::SmallInteger => "SMALLINT".to_owned(),
            FieldType::Integer => "INTEGER".to_owned(),
            FieldType::BigInteger => "BIGINT".to_owned(),
            FieldType::Float => "REAL".to_owned(),
            FieldType::Double => "DOUBLE PRECISION".to_owned(),
            FieldType::Boolean => "BOOLEAN".to_owned(),
            FieldType::String => match field.max_length {
                Some(n) => format!("VARCHAR({n})"),
                None => "TEXT".to_owned(),
            },
            FieldType::Text => "TEXT".to_owned(),
            FieldType::DateTime => "TIMESTAMP WITH TIME ZONE".to_owned(),
            FieldType::Timestamp => "TIMESTAMP".to_owned(),
            FieldType::Date => "DATE".to_owned(),
            FieldType::Time => "TIME".to_owned(),
            FieldType::Uuid => "UUID".to_owned(),
            FieldType::Json => "JSONB".to_owned(),
            FieldType::Binary => "BYTEA".to_owned(),
            FieldType::Decimal => format!("NUMERIC{}", decimal_params(field)),
        })
    }

    fn auto_increment_clause(&self) -> &'static str {
        "GENERATED BY DEFAULT AS IDENTITY"
    }

    fn change_primary_key(&self, change: &ModelChange<'_>) -> Result<Vec<String>, DialectError> {
        let table = change.table();
        let mut stmts = Vec::new();
        if !change.before.primary_key().is_empty() {
            stmts.push(self.alter_table(
                table,
                &format!(
                    "DROP CONSTRAINT {}",
                    self.ident(&pkey_name(&change.before.table))
                ),
            ));
        }
        stmts.extend(self.add_primary_key(change.after));
        Ok(stmts)
    }

    fn rename_table_sql(&self, before: &ModelState, after: &ModelState) -> Vec<String> {
        self.rename_table_and_constraints(before, after)
    }

    fn rename_index_sql(
        &self,
        _model: &ModelState,
        old_name: &str,
        index: &IndexState,
    ) -> Result<Vec<String>, DialectError> {
        Ok(vec![format!(
            "ALTER INDEX {} RENAME TO {}",
            self.ident(old_name),
            self.ident(&index.name)
        )])
    }

    fn alter_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let (before, after) = (change.before, change.after);
        let (old, new) = (field_of(before, name)?, field_of(after, name)?);
        self.check_field(after, new)?;
        let table = change.table();
        let (oc, nc) = (old.column(), new.column());
        let renamed = oc != nc;
        let (old_type, new_type) = (self.column_type(old)?, self.column_type(new)?);
        let type_changed = old_type != new_type;
        let (old_default, new_default) = (self.default_expr(old)?, self.default_expr(new)?);
        let (old_unique, new_unique) = (has_unique(before, old), has_unique(after, new));
        let fk_same = old.foreign_key == new.foreign_key;
        let pk_changed = change.primary_key_changes();
        change.check_primary_key_change(self)?;
        let col = self.ident(nc);
        let mut s = Vec::new();

        // Drop what goes away, while it still has its old name.
        if old.foreign_key.is_some() && !fk_same {
            s.extend(self.drop_foreign_key(table, oc));
        }
        if old_unique && !new_unique {
            s.push(self.drop_unique(table, oc));
        }
        if pk_changed && !before.primary_key().is_empty() {
            s.push(self.alter_table(
                table,
                &format!("DROP CONSTRAINT {}", self.ident(&pkey_name(table))),
            ));
        }
        if renamed {
            s.push(self.alter_table(table, &format!("RENAME COLUMN {} TO {col}", self.ident(oc))));
            // Constraint names follow the column so later operations find them.
            if old_unique && new_unique {
                s.push(self.rename_constraint(
                    table,
                    &unique_name(table, oc),
                    &unique_name(table, nc),
                ));
            }
            if old.foreign_key.is_some() && fk_same {
                s.push(self.rename_constraint(table, &fk_name(table, oc), &fk_name(table, nc)));
            }
        }
        if old.auto_increment && !new.auto_increment {
            s.push(self.alter_table(
                table,
                &format!("ALTER COLUMN {col} DROP IDENTITY IF EXISTS"),
            ));
        }
        // A default of the old type may not cast to the new one: drop it first.
        if old_default.is_some() && (type_changed || new_default.is_none()) {
            s.push(self.alter_table(table, &format!("ALTER COLUMN {col} DROP DEFAULT")));
        }
        if type_changed {
            s.push(self.alter_table(
                table,
                &format!(
                    "ALTER COLUMN {col} TYPE {new_type} USING {}",
                    convert(&col, old.field_type, new.field_type, &new_type)
                ),
            ));
        }
        if let Some(expr) = &new_default
            && (type_changed || old_default.as_ref() != Some(expr))
        {
            s.push(self.alter_table(table, &format!("ALTER COLUMN {col} SET DEFAULT {expr}")));
        }
        if old.nullable && !new.nullable {
            if let Some(expr) = &new_default {
                s.push(format!(
                    "UPDATE {} SET {col} = {expr} WHERE {col} IS NULL",
                    self.ident(table)
                ));
            }
            s.push(self.alter_table(table, &format!("ALTER COLUMN {col} SET NOT NULL")));
        } else if !old.nullable && new.nullable {
            s.push(self.alter_table(table, &format!("ALTER COLUMN {col} DROP NOT NULL")));
        }
        if new.auto_increment && !old.auto_increment {
            s.push(self.alter_table(
                table,
                &format!("ALTER COLUMN {col} ADD {}", self.auto_increment_clause()),
            ));
            // The new sequence starts at 1; move it past the values already there.
            s.push(format!(
                "SELECT setval(pg_get_serial_sequence({}, {}), COALESCE(MAX({col}), 0) + 1, false) FROM {}",
                self.string(&self.ident(table)),
                self.string(nc),
                self.ident(table)
            ));
        }
        if pk_changed {
            s.extend(self.add_primary_key(after));
        }
        if new_unique && !old_unique {
            s.push(self.add_unique(after, new));
        }
        if new.foreign_key.is_some() && !fk_same {
            s.extend(self.add_foreign_key(after, new));
        }
        Ok(OperationSql::new(s))
    }
}

/// How a value of column `col` converts from `from` to `to` (SQL type `to_sql`).
/// PostgreSQL casts between all the types Chakra uses except boolean and numbers, which get
/// the conversion every other database applies: true is 1, false is 0, non-zero is true.
fn convert(col: &str, from: FieldType, to: FieldType, to_sql: &str) -> String {
    let numeric = |t: FieldType| {
        t.is_integer() || matches!(t, FieldType::Float | FieldType::Double | FieldType::Decimal)
    };
    match (from, to) {
        (FieldType::Boolean, t) if numeric(t) => {
            format!("CASE WHEN {col} THEN 1 ELSE 0 END::{to_sql}")
        }
        (f, FieldType::Boolean) if numeric(f) => format!("({col} <> 0)"),
        _ => format!("{col}::{to_sql}"),
    }
}

impl Postgres {
    /// The table rename, then the constraints named after the table (primary key, UNIQUE,
    /// foreign keys), so that later operations find them by their derived names.
    fn rename_table_and_constraints(&self, before: &ModelState, after: &ModelState) -> Vec<String> {
        let (old, new) = (&before.table, &after.table);
        let mut s = vec![self.alter_table(old, &format!("RENAME TO {}", self.ident(new)))];
        if !after.primary_key().is_empty() {
            s.push(self.rename_constraint(new, &pkey_name(old), &pkey_name(new)));
        }
        for f in &after.fields {
            if has_unique(after, f) {
                s.push(self.rename_constraint(
                    new,
                    &unique_name(old, f.column()),
                    &unique_name(new, f.column()),
                ));
            }
            if f.foreign_key.is_some() {
                s.push(self.rename_constraint(
                    new,
                    &fk_name(old, f.column()),
                    &fk_name(new, f.column()),
                ));
            }
        }
        s
    }

    /// `ALTER TABLE "t" RENAME CONSTRAINT "a" TO "b"`.
    fn rename_constraint(&self, table: &str, from: &str, to: &str) -> String {
        self.alter_table(
            table,
            &format!(
                "RENAME CONSTRAINT {} TO {}",
                self.ident(from),
                self.ident(to)
            ),
        )
    }
}

#[cfg(test)]
mod conversion_tests {
    use super::convert;
    use crate::state::FieldType;

    #[test]
    fn booleans_and_numbers_convert_like_other_databases() {
        assert_eq!(
            convert(
                "\"c\"",
                FieldType::Boolean,
                FieldType::Double,
                "DOUBLE PRECISION"
            ),
            "CASE WHEN \"c\" THEN 1 ELSE 0 END::DOUBLE PRECISION"
        );
        assert_eq!(
            convert("\"c\"", FieldType::Integer, FieldType::Boolean, "BOOLEAN"),
            "(\"c\" <> 0)"
        );
        assert_eq!(
            convert("\"c\"", FieldType::Integer, FieldType::BigInteger, "BIGINT"),
            "\"c\"::BIGINT"
        );
        assert_eq!(
            convert("\"c\"", FieldType::Boolean, FieldType::Text, "TEXT"),
            "\"c\"::TEXT"
        );
    }
}
