//! MySQL 8 and MariaDB 10.6+: InnoDB tables, `AUTO_INCREMENT`, keys as table clauses, and
//! `MODIFY`/`CHANGE COLUMN` with the full column definition.
//!
//! MySQL commits each DDL statement on its own, so an operation is written as few
//! `ALTER TABLE` statements as MySQL allows: one statement is applied whole or not at all.

use crate::operations::Operation;
use crate::state::{
    ConstraintKind, ConstraintState, DefaultValue, FieldState, FieldType, ForeignKey, IndexState,
    ModelState, OnAction, ProjectState, StateError,
};

use super::common::{
    ColumnUse, Dialect, ModelChange, check_field_common, constraint_of, field_of, fk_name,
    has_unique, is_constant_literal, parenthesize, primary_key_columns, unique_name,
};
use super::postgres::decimal_params;
use super::{DialectError, DialectKind, OperationSql};

/// The MySQL / MariaDB dialect.
pub(crate) struct Mysql;

/// Types stored as TEXT, BLOB or JSON: MySQL cannot give them a literal default (only an
/// expression default, MySQL 8.0.13+) nor index them without a prefix length.
fn is_blob_like(field: &FieldState) -> bool {
    match field.field_type {
        FieldType::Text | FieldType::Json | FieldType::Binary => true,
        FieldType::String => field.max_length.is_none(),
        _ => false,
    }
}

/// `CURRENT_TIMESTAMP` and its synonyms, which MySQL accepts as a plain (not parenthesized)
/// default of DATETIME columns.
fn is_current_timestamp(expr: &str) -> bool {
    let e = expr.trim().to_ascii_uppercase().replace(' ', "");
    let base = e.strip_suffix("()").unwrap_or(&e);
    matches!(
        base,
        "CURRENT_TIMESTAMP" | "NOW" | "LOCALTIME" | "LOCALTIMESTAMP"
    )
}

impl Dialect for Mysql {
    fn kind(&self) -> DialectKind {
        DialectKind::Mysql
    }

    fn column_type(&self, field: &FieldState) -> Result<String, DialectError> {
        Ok(match field.field_type {
            FieldType::SmallInteger => "SMALLINT".to_owned(),
            FieldType::Integer => "INT".to_owned(),
            FieldType::BigInteger => "BIGINT".to_owned(),
            FieldType::Float => "FLOAT".to_owned(),
            FieldType::Double => "DOUBLE".to_owned(),
            FieldType::Boolean => "BOOL".to_owned(),
            FieldType::String => match field.max_length {
                Some(n) => format!("VARCHAR({n})"),
                None => "LONGTEXT".to_owned(),
            },
            FieldType::Text => "LONGTEXT".to_owned(),
            FieldType::DateTime | FieldType::Timestamp => "DATETIME(6)".to_owned(),
            FieldType::Date => "DATE".to_owned(),
            FieldType::Time => "TIME(6)".to_owned(),
            FieldType::Uuid => "CHAR(36)".to_owned(),
            FieldType::Json => "JSON".to_owned(),
            FieldType::Binary => "LONGBLOB".to_owned(),
            FieldType::Decimal => match field.precision {
                Some(_) => format!("DECIMAL{}", decimal_params(field)),
                // DECIMAL alone means DECIMAL(10,0) on MySQL; keep as many digits as possible.
                None => "DECIMAL(65,30)".to_owned(),
            },
        })
    }

    fn auto_increment_clause(&self) -> &'static str {
        "AUTO_INCREMENT"
    }

    fn literal_default(
        &self,
        field: &FieldState,
        value: &DefaultValue,
    ) -> Result<String, DialectError> {
        let literal = self.literal(field, value)?;
        Ok(if is_blob_like(field) {
            format!("({literal})")
        } else {
            literal
        })
    }

    fn db_default_expr(&self, field: &FieldState, expr: &str) -> String {
        let datetime = matches!(field.field_type, FieldType::DateTime | FieldType::Timestamp);
        if datetime && is_current_timestamp(expr) {
            // A DATETIME(6) default must have the same fractional precision.
            "CURRENT_TIMESTAMP(6)".to_owned()
        } else if !is_blob_like(field)
            && (is_constant_literal(expr)
                || (datetime && expr.eq_ignore_ascii_case("CURRENT_TIMESTAMP(6)")))
        {
            expr.to_owned()
        } else {
            parenthesize(expr)
        }
    }

    fn check_field(&self, model: &ModelState, field: &FieldState) -> Result<(), DialectError> {
        check_field_common(self, model, field)?;
        let keyed = [
            (field.primary_key, "a primary key"),
            (has_unique(model, field), "a UNIQUE key"),
            (field.foreign_key.is_some(), "a foreign key"),
        ];
        if is_blob_like(field)
            && let Some((_, what)) = keyed.iter().find(|(on, _)| *on)
        {
            return Err(self.unsupported(format!(
                "make {what} of `{}.{}`, a {} column, without a prefix length; give it a `max_length` so it becomes VARCHAR",
                model.name,
                field.name,
                self.column_type(field)?
            )));
        }
        if field.auto_increment {
            let first_of_pk = model
                .primary_key()
                .first()
                .is_some_and(|f| f.name == field.name);
            if !first_of_pk && !field.unique {
                return Err(self.unsupported(format!(
                    "auto-increment `{}.{}`: MySQL's AUTO_INCREMENT column must be the first column of the primary key or UNIQUE",
                    model.name, field.name
                )));
            }
        }
        Ok(())
    }

    fn check_foreign_key(
        &self,
        model: &ModelState,
        field: &FieldState,
        fk: &ForeignKey,
    ) -> Result<(), DialectError> {
        if fk.on_delete == OnAction::SetDefault || fk.on_update == OnAction::SetDefault {
            return Err(self.unsupported(format!(
                "use SET DEFAULT on foreign key `{}.{}` (InnoDB rejects it); choose set_null, cascade, restrict or no_action",
                model.name, field.name
            )));
        }
        Ok(())
    }

    fn inline_unique(&self, _model: &ModelState, _field: &FieldState) -> Option<String> {
        None
    }

    fn unique_table_constraint(&self, model: &ModelState, field: &FieldState) -> Option<String> {
        Some(self.unique_key(&model.table, field.column()))
    }

    fn foreign_key_constraints(&self, model: &ModelState, field: &FieldState) -> Vec<String> {
        let Some(fk) = &field.foreign_key else {
            return Vec::new();
        };
        // InnoDB needs an index on a foreign key column and makes one on its own, but drops
        // that one silently when another index could serve, after which dropping the other
        // index fails. An explicit index, named like the constraint, never moves.
        let name = self.ident(&fk_name(&model.table, field.column()));
        let col = self.ident(field.column());
        vec![
            format!("KEY {name} ({col})"),
            format!(
                "CONSTRAINT {name} FOREIGN KEY ({col}) {}",
                self.references(fk)
            ),
        ]
    }

    fn add_foreign_key(&self, model: &ModelState, field: &FieldState) -> Vec<String> {
        let clauses: Vec<String> = self
            .foreign_key_constraints(model, field)
            .into_iter()
            .map(|c| format!("ADD {c}"))
            .collect();
        if clauses.is_empty() {
            return Vec::new();
        }
        vec![self.alter_table(&model.table, &clauses.join(", "))]
    }

    fn drop_foreign_key(&self, table: &str, column: &str) -> Vec<String> {
        vec![self.alter_table(
            table,
            &format!("DROP FOREIGN KEY {}", self.ident(&fk_name(table, column))),
        )]
    }

    fn table_options(&self) -> &'static str {
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    }

    fn check_index(&self, model: &ModelState, index: &IndexState) -> Result<(), DialectError> {
        for name in &index.fields {
            if let Some(field) = model.field(name)
                && is_blob_like(field)
            {
                return Err(self.unsupported(format!(
                    "index `{}.{}`, a {} column, in `{}` without a prefix length; give the field a `max_length` so it becomes VARCHAR, or create the index with RunSQL",
                    model.name,
                    field.name,
                    self.column_type(field)?,
                    index.name
                )));
            }
        }
        Ok(())
    }

    fn check_constraint(
        &self,
        model: &ModelState,
        constraint: &ConstraintState,
    ) -> Result<(), DialectError> {
        for name in constraint.kind.fields() {
            if let Some(field) = model.field(name)
                && is_blob_like(field)
            {
                return Err(self.unsupported(format!(
                    "make UNIQUE constraint `{}` over `{}.{}`, a {} column, without a prefix length; give the field a `max_length` so it becomes VARCHAR",
                    constraint.name,
                    model.name,
                    field.name,
                    self.column_type(field)?
                )));
            }
        }
        Ok(())
    }

    /// A UNIQUE constraint is an index on MySQL, dropped as one (`DROP CONSTRAINT` for a
    /// UNIQUE needs MySQL 8.0.19 and is not MariaDB's); a CHECK is dropped by name.
    fn remove_constraint(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let model = change.before;
        let clause = match constraint_of(model, name)?.kind {
            ConstraintKind::Unique { .. } => format!("DROP INDEX {}", self.ident(name)),
            ConstraintKind::Check { .. } => format!("DROP CONSTRAINT {}", self.ident(name)),
        };
        Ok(OperationSql::new(vec![
            self.alter_table(&model.table, &clause),
        ]))
    }

    /// Indexes are built and dropped with `ALGORITHM=INPLACE, LOCK=NONE`: reads and writes
    /// go on, and MySQL refuses the statement rather than locking the table when it cannot.
    /// Other operations have no lighter form here.
    fn online_operation(
        &self,
        app: &str,
        op: &Operation,
        before: &ProjectState,
        after: &ProjectState,
    ) -> Result<Option<OperationSql>, DialectError> {
        let model = |state: &'_ ProjectState, name: &str| -> Result<ModelState, DialectError> {
            state.model(app, name).cloned().ok_or_else(|| {
                DialectError::State(StateError::new(format!(
                    "model `{app}.{name}` does not exist"
                )))
            })
        };
        let statement = match op {
            Operation::CreateIndex(c) => {
                let m = model(after, &c.model)?;
                let index = m.index(&c.name).expect("CreateIndex added the index");
                format!(
                    "{} ALGORITHM=INPLACE LOCK=NONE",
                    self.create_index(&m, index)?
                )
            }
            // MariaDB's DROP INDEX takes no ALGORITHM or LOCK; ALTER TABLE does on both.
            Operation::DropIndex(d) => self.alter_table(
                &model(before, &d.model)?.table,
                &format!(
                    "DROP INDEX {}, ALGORITHM=INPLACE, LOCK=NONE",
                    self.ident(&d.name)
                ),
            ),
            _ => return Ok(None),
        };
        Ok(Some(OperationSql::new(vec![statement])))
    }

    fn drop_index(&self, model: &ModelState, name: &str) -> String {
        format!(
            "DROP INDEX {} ON {}",
            self.ident(name),
            self.ident(&model.table)
        )
    }

    fn add_unique(&self, model: &ModelState, field: &FieldState) -> String {
        self.alter_table(
            &model.table,
            &format!("ADD {}", self.unique_key(&model.table, field.column())),
        )
    }

    fn drop_unique(&self, table: &str, column: &str) -> String {
        self.alter_table(
            table,
            &format!("DROP INDEX {}", self.ident(&unique_name(table, column))),
        )
    }

    fn change_primary_key(&self, change: &ModelChange<'_>) -> Result<Vec<String>, DialectError> {
        Ok(vec![self.alter_table(
            change.table(),
            &self.primary_key_clauses(change).join(", "),
        )])
    }

    fn add_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let model = change.after;
        let field = field_of(model, name)?;
        // One statement: an AUTO_INCREMENT column must be a key the moment it exists.
        let mut clauses = vec![format!(
            "ADD COLUMN {}",
            self.column_def(model, field, ColumnUse::AddColumn)?
        )];
        if field.primary_key {
            clauses.extend(self.primary_key_clauses(change));
        }
        if has_unique(model, field) {
            clauses.push(format!(
                "ADD {}",
                self.unique_key(&model.table, field.column())
            ));
        }
        clauses.extend(
            self.foreign_key_constraints(model, field)
                .into_iter()
                .map(|c| format!("ADD {c}")),
        );
        Ok(OperationSql::new(vec![
            self.alter_table(&model.table, &clauses.join(", ")),
        ]))
    }

    fn remove_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let model = change.before;
        let table = &model.table;
        let field = field_of(model, name)?;
        let mut stmts = Vec::new();
        if field.foreign_key.is_some() {
            // The column's own index goes with the column.
            stmts.extend(self.drop_foreign_key(table, field.column()));
        }
        let drop = format!("DROP COLUMN {}", self.ident(field.column()));
        if field.primary_key {
            let mut clauses = self.primary_key_clauses(change);
            clauses.insert(1, drop);
            stmts.push(self.alter_table(table, &clauses.join(", ")));
        } else {
            stmts.push(self.alter_table(table, &drop));
        }
        Ok(OperationSql::new(stmts))
    }

    /// `RENAME TABLE`, then the keys named after the table: UNIQUE indexes are renamed;
    /// foreign keys cannot be, so each is dropped and added again under its new name, with
    /// its index renamed in between.
    fn rename_table_sql(&self, before: &ModelState, after: &ModelState) -> Vec<String> {
        let (old, new) = (&before.table, &after.table);
        let mut s = vec![format!(
            "RENAME TABLE {} TO {}",
            self.ident(old),
            self.ident(new)
        )];
        for f in &after.fields {
            let col = f.column();
            if has_unique(after, f) {
                s.push(self.alter_table(
                    new,
                    &self.rename_index(&unique_name(old, col), &unique_name(new, col)),
                ));
            }
            if f.foreign_key.is_some() {
                s.push(self.alter_table(
                    new,
                    &format!("DROP FOREIGN KEY {}", self.ident(&fk_name(old, col))),
                ));
                s.push(self.alter_table(
                    new,
                    &self.rename_index(&fk_name(old, col), &fk_name(new, col)),
                ));
                if let Some(constraint) = self
                    .foreign_key_constraints(after, f)
                    .into_iter()
                    .find(|c| c.starts_with("CONSTRAINT"))
                {
                    s.push(self.alter_table(new, &format!("ADD {constraint}")));
                }
            }
        }
        s
    }

    fn rename_index_sql(
        &self,
        model: &ModelState,
        old_name: &str,
        index: &IndexState,
    ) -> Result<Vec<String>, DialectError> {
        Ok(vec![self.alter_table(
            &model.table,
            &self.rename_index(old_name, &index.name),
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
        let old_def = self.column_def(before, old, ColumnUse::Modify)?;
        let new_def = self.column_def(after, new, ColumnUse::Modify)?;
        // Compare the definitions without the column names (a rename is CHANGE COLUMN anyway).
        let def_changed =
            old_def.strip_prefix(&self.ident(oc)) != new_def.strip_prefix(&self.ident(nc));
        let type_changed = self.column_type(old)? != self.column_type(new)?;
        let (old_unique, new_unique) = (has_unique(before, old), has_unique(after, new));
        let pk_changed = change.primary_key_changes();
        change.check_primary_key_change(self)?;
        // MySQL can neither rename a foreign key nor change the type of its column while it
        // exists: drop it and add it again.
        let fk_redo = old.foreign_key != new.foreign_key || renamed || type_changed;
        let fk_drop = old.foreign_key.is_some() && fk_redo;
        let fk_add = new.foreign_key.is_some() && fk_redo;
        let mut stmts = Vec::new();
        if fk_drop {
            stmts.extend(self.drop_foreign_key(table, oc));
        }
        if old.nullable
            && !new.nullable
            && let Some(expr) = self.default_expr(new)?
        {
            let col = self.ident(oc);
            stmts.push(format!(
                "UPDATE {} SET {col} = {expr} WHERE {col} IS NULL",
                self.ident(table)
            ));
        }
        let mut clauses = Vec::new();
        if fk_drop && !fk_add {
            clauses.push(format!("DROP INDEX {}", self.ident(&fk_name(table, oc))));
        } else if fk_drop && renamed {
            clauses.push(self.rename_index(&fk_name(table, oc), &fk_name(table, nc)));
        }
        if old_unique && !new_unique {
            clauses.push(format!(
                "DROP INDEX {}",
                self.ident(&unique_name(table, oc))
            ));
        } else if old_unique && renamed {
            clauses.push(self.rename_index(&unique_name(table, oc), &unique_name(table, nc)));
        }
        if pk_changed && !before.primary_key().is_empty() {
            clauses.push("DROP PRIMARY KEY".to_owned());
        }
        if renamed {
            clauses.push(format!("CHANGE COLUMN {} {new_def}", self.ident(oc)));
        } else if def_changed {
            clauses.push(format!("MODIFY COLUMN {new_def}"));
        }
        if pk_changed && !after.primary_key().is_empty() {
            let cols = primary_key_columns(after);
            clauses.push(format!("ADD PRIMARY KEY ({})", self.ident_list(&cols)));
        }
        if new_unique && !old_unique {
            clauses.push(format!("ADD {}", self.unique_key(table, nc)));
        }
        if !clauses.is_empty() {
            stmts.push(self.alter_table(table, &clauses.join(", ")));
        }
        if fk_add {
            let mut constraints = self.foreign_key_constraints(after, new);
            if old.foreign_key.is_some() {
                // The index was kept (or renamed) above.
                constraints.retain(|c| !c.starts_with("KEY "));
            }
            let clauses: Vec<String> = constraints
                .into_iter()
                .map(|c| format!("ADD {c}"))
                .collect();
            stmts.push(self.alter_table(table, &clauses.join(", ")));
        }
        Ok(OperationSql::new(stmts))
    }
}

impl Mysql {
    /// `UNIQUE KEY `t_c_key` (`c`)`.
    fn unique_key(&self, table: &str, column: &str) -> String {
        format!(
            "UNIQUE KEY {} ({})",
            self.ident(&unique_name(table, column)),
            self.ident(column)
        )
    }

    /// `RENAME INDEX `a` TO `b``.
    fn rename_index(&self, from: &str, to: &str) -> String {
        format!("RENAME INDEX {} TO {}", self.ident(from), self.ident(to))
    }

    /// `DROP PRIMARY KEY` (when there was one) and `ADD PRIMARY KEY (...)` (when there is one).
    fn primary_key_clauses(&self, change: &ModelChange<'_>) -> Vec<String> {
        let mut clauses = Vec::new();
        if !change.before.primary_key().is_empty() {
            clauses.push("DROP PRIMARY KEY".to_owned());
        }
        let cols = primary_key_columns(change.after);
        if !cols.is_empty() {
            clauses.push(format!("ADD PRIMARY KEY ({})", self.ident_list(&cols)));
        }
        clauses
    }
}
