//! The neutral SQL builder shared by every dialect.
//!
//! [`Dialect`] holds one default implementation of each piece of SQL (column definitions,
//! `CREATE TABLE`, indexes, foreign keys, `ALTER TABLE ... ADD COLUMN`, ...). The dialect
//! modules override only what differs: quoting, column types, auto-increment, literals, what
//! `ALTER TABLE` can do, and SQLite's table rebuild.

use crate::checksum::short_identifier;
use crate::operations::Operation;
use crate::state::{
    ConstraintKind, ConstraintState, DefaultValue, FieldState, FieldType, ForeignKey, IndexState,
    MAX_IDENTIFIER_LEN, ModelState, OnAction, ProjectState, StateError,
};

use super::{DialectError, DialectKind, OperationSql, quote_ident, quote_str};

/// What the operation handlers of a [`Dialect`] receive for a change to one model.
pub(crate) struct ModelChange<'a> {
    /// The app of the operation.
    pub app: &'a str,
    /// The whole schema before the operation.
    pub state_before: &'a ProjectState,
    /// The model before the operation.
    pub before: &'a ModelState,
    /// The model after the operation.
    pub after: &'a ModelState,
}

impl<'a> ModelChange<'a> {
    /// The change of a model of `app` from `models.0` to `models.1`.
    pub fn new(
        app: &'a str,
        state_before: &'a ProjectState,
        models: &'a (ModelState, ModelState),
    ) -> Self {
        ModelChange {
            app,
            state_before,
            before: &models.0,
            after: &models.1,
        }
    }

    /// The table (unchanged by the operations that use a `ModelChange`).
    pub fn table(&self) -> &str {
        &self.after.table
    }

    /// True when the primary key fields differ before and after.
    pub fn primary_key_changes(&self) -> bool {
        primary_key_fields(self.before) != primary_key_fields(self.after)
    }

    /// A changed primary key breaks the foreign keys of other models that point at it.
    pub fn check_primary_key_change<D: Dialect + ?Sized>(&self, d: &D) -> Result<(), DialectError> {
        let refs = self.state_before.references_to(self.app, &self.before.name);
        match refs.first() {
            Some((model, field)) if self.primary_key_changes() => Err(d.unsupported(format!(
                "change the primary key of `{}` while `{model}.{field}` has a foreign key to it; remove or alter that foreign key first",
                self.before.name
            ))),
            _ => Ok(()),
        }
    }
}

/// How a column definition is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnUse {
    /// Inside `CREATE TABLE`: a single-column primary key and UNIQUE are written inline.
    CreateTable,
    /// `ALTER TABLE ... ADD COLUMN`: UNIQUE inline where the dialect allows it; the primary
    /// key is handled by the caller.
    AddColumn,
    /// MySQL's `MODIFY COLUMN` / `CHANGE COLUMN`: type, nullability, default and
    /// auto-increment only (keys are separate clauses).
    Modify,
}

/// Builds the SQL of every operation. Default methods are the neutral form; dialects
/// override what differs.
pub(crate) trait Dialect: Sync {
    /// The database this dialect writes for.
    fn kind(&self) -> DialectKind;

    // ----- lexical -----

    /// A quoted identifier.
    fn ident(&self, name: &str) -> String {
        quote_ident(self.kind(), name)
    }

    /// A comma-separated list of quoted identifiers.
    fn ident_list(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| self.ident(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A quoted string literal.
    fn string(&self, value: &str) -> String {
        quote_str(self.kind(), value)
    }

    /// A boolean literal (SQLite and MySQL store booleans as 1 and 0).
    fn bool_literal(&self, value: bool) -> &'static str {
        if value { "1" } else { "0" }
    }

    /// A literal `default`, quoted as a value.
    fn literal(&self, field: &FieldState, value: &DefaultValue) -> Result<String, DialectError> {
        Ok(match value {
            DefaultValue::Bool(b) => self.bool_literal(*b).to_owned(),
            DefaultValue::Int(i) => i.to_string(),
            DefaultValue::Float(x) => float_literal(*x).ok_or_else(|| {
                self.unsupported(format!(
                    "write the default {x} of `{}` as an SQL literal; use a finite number",
                    field.name
                ))
            })?,
            DefaultValue::Str(s) => self.string(s),
        })
    }

    /// An error for something this dialect cannot express.
    fn unsupported(&self, what: String) -> DialectError {
        DialectError::Unsupported {
            dialect: self.kind(),
            what,
        }
    }

    // ----- types and columns -----

    /// The SQL type of a field.
    fn column_type(&self, field: &FieldState) -> Result<String, DialectError>;

    /// The words that make an integer column auto-increment (PostgreSQL's identity, MySQL's
    /// `AUTO_INCREMENT`).
    fn auto_increment_clause(&self) -> &'static str;

    /// The expression after `DEFAULT`, from `default` (a quoted literal) or `db_default`
    /// (used as written; see [`Dialect::db_default_expr`]).
    fn default_expr(&self, field: &FieldState) -> Result<Option<String>, DialectError> {
        match (&field.default, &field.db_default) {
            (Some(_), Some(_)) => Err(self.unsupported(format!(
                "use both `default` and `db_default` on `{}`; keep one of them",
                field.name
            ))),
            (Some(v), None) => self.literal_default(field, v).map(Some),
            (None, Some(expr)) => Ok(Some(self.db_default_expr(field, expr.trim()))),
            (None, None) => Ok(None),
        }
    }

    /// How a literal `default` is written after `DEFAULT` (MySQL needs `('...')` on TEXT).
    fn literal_default(
        &self,
        field: &FieldState,
        value: &DefaultValue,
    ) -> Result<String, DialectError> {
        self.literal(field, value)
    }

    /// How a `db_default` expression is written. PostgreSQL takes any expression as written.
    fn db_default_expr(&self, _field: &FieldState, expr: &str) -> String {
        expr.to_owned()
    }

    /// Checks what this dialect cannot express about a field of `model`.
    fn check_field(&self, model: &ModelState, field: &FieldState) -> Result<(), DialectError> {
        check_field_common(self, model, field)
    }

    /// Checks a foreign key's rules.
    fn check_foreign_key(
        &self,
        _model: &ModelState,
        _field: &FieldState,
        _fk: &ForeignKey,
    ) -> Result<(), DialectError> {
        Ok(())
    }

    /// A column definition: name, type, NOT NULL, DEFAULT, auto-increment, and (inside
    /// `CREATE TABLE`) an inline primary key and UNIQUE.
    fn column_def(
        &self,
        model: &ModelState,
        field: &FieldState,
        usage: ColumnUse,
    ) -> Result<String, DialectError> {
        self.check_field(model, field)?;
        let mut parts = vec![self.ident(field.column()), self.column_type(field)?];
        if !field.nullable {
            parts.push("NOT NULL".to_owned());
        }
        if let Some(expr) = self.default_expr(field)? {
            parts.push(format!("DEFAULT {expr}"));
        }
        if field.auto_increment {
            parts.push(self.auto_increment_clause().to_owned());
        }
        if usage == ColumnUse::CreateTable && is_single_primary_key(model, field) {
            parts.push("PRIMARY KEY".to_owned());
        }
        if usage != ColumnUse::Modify
            && has_unique(model, field)
            && let Some(unique) = self.inline_unique(model, field)
        {
            parts.push(unique);
        }
        Ok(parts.join(" "))
    }

    /// An inline UNIQUE column constraint, or `None` when the dialect writes UNIQUE as a
    /// table constraint (MySQL, which cannot name an inline one).
    fn inline_unique(&self, model: &ModelState, field: &FieldState) -> Option<String> {
        Some(format!(
            "CONSTRAINT {} UNIQUE",
            self.ident(&unique_name(&model.table, field.column()))
        ))
    }

    /// Table constraints written for a UNIQUE field when [`Dialect::inline_unique`] is `None`.
    fn unique_table_constraint(&self, _model: &ModelState, _field: &FieldState) -> Option<String> {
        None
    }

    /// `REFERENCES "t" ("c") ON DELETE ... ON UPDATE ...` (rules that are NO ACTION, the SQL
    /// default, are left out).
    fn references(&self, fk: &ForeignKey) -> String {
        let mut out = format!(
            "REFERENCES {} ({})",
            self.ident(&fk.table),
            self.ident(&fk.column)
        );
        if fk.on_delete != OnAction::NoAction {
            out.push_str(" ON DELETE ");
            out.push_str(fk.on_delete.sql());
        }
        if fk.on_update != OnAction::NoAction {
            out.push_str(" ON UPDATE ");
            out.push_str(fk.on_update.sql());
        }
        out
    }

    /// The table constraints of a foreign key field:
    /// `CONSTRAINT "t_c_fkey" FOREIGN KEY ("c") REFERENCES ...`.
    fn foreign_key_constraints(&self, model: &ModelState, field: &FieldState) -> Vec<String> {
        let Some(fk) = &field.foreign_key else {
            return Vec::new();
        };
        vec![format!(
            "CONSTRAINT {} FOREIGN KEY ({}) {}",
            self.ident(&fk_name(&model.table, field.column())),
            self.ident(field.column()),
            self.references(fk)
        )]
    }

    /// Everything after the closing parenthesis of `CREATE TABLE` (MySQL's engine).
    fn table_options(&self) -> &'static str {
        ""
    }

    // ----- whole statements -----

    /// `CREATE TABLE name (...)` for `model`, under `table` (which differs from the model's
    /// during a SQLite rebuild).
    fn create_table(&self, model: &ModelState, table: &str) -> Result<String, DialectError> {
        let mut lines = Vec::new();
        for f in &model.fields {
            lines.push(self.column_def(model, f, ColumnUse::CreateTable)?);
        }
        let pk = model.primary_key();
        if pk.len() > 1 {
            let cols: Vec<&str> = pk.iter().map(|f| f.column()).collect();
            lines.push(format!("PRIMARY KEY ({})", self.ident_list(&cols)));
        }
        for f in &model.fields {
            if has_unique(model, f)
                && let Some(c) = self.unique_table_constraint(model, f)
            {
                lines.push(c);
            }
        }
        for f in &model.fields {
            lines.extend(self.foreign_key_constraints(model, f));
        }
        // Every declared constraint, so that SQLite's rebuild keeps them; a CreateModel's
        // model has none yet (they are AddConstraint operations of their own).
        for c in &model.constraints {
            lines.push(self.constraint_def(model, c)?);
        }
        Ok(format!(
            "CREATE TABLE {} (\n    {}\n){}",
            self.ident(table),
            lines.join(",\n    "),
            self.table_options()
        ))
    }

    /// `DROP TABLE`.
    fn drop_table(&self, model: &ModelState) -> String {
        format!("DROP TABLE {}", self.ident(&model.table))
    }

    /// Checks that the fields of an index can be indexed on this database.
    fn check_index(&self, _model: &ModelState, _index: &IndexState) -> Result<(), DialectError> {
        Ok(())
    }

    /// `CREATE [UNIQUE] INDEX "name" ON "table" ("col", ...)`; fields map to their columns.
    fn create_index(&self, model: &ModelState, index: &IndexState) -> Result<String, DialectError> {
        self.check_index(model, index)?;
        let cols: Vec<&str> = index.fields.iter().map(|f| model.column_of(f)).collect();
        Ok(format!(
            "CREATE {}INDEX {} ON {} ({})",
            if index.unique { "UNIQUE " } else { "" },
            self.ident(&index.name),
            self.ident(&model.table),
            self.ident_list(&cols)
        ))
    }

    /// `DROP INDEX "name"`.
    fn drop_index(&self, _model: &ModelState, name: &str) -> String {
        format!("DROP INDEX {}", self.ident(name))
    }

    /// Checks that a constraint can be expressed on this database.
    fn check_constraint(
        &self,
        _model: &ModelState,
        _constraint: &ConstraintState,
    ) -> Result<(), DialectError> {
        Ok(())
    }

    /// A table constraint clause: `CONSTRAINT "n" UNIQUE ("a", "b")` (fields map to their
    /// columns) or `CONSTRAINT "n" CHECK (<expression as written>)`.
    fn constraint_def(
        &self,
        model: &ModelState,
        constraint: &ConstraintState,
    ) -> Result<String, DialectError> {
        self.check_constraint(model, constraint)?;
        let name = self.ident(&constraint.name);
        Ok(match &constraint.kind {
            ConstraintKind::Unique { fields } => {
                let cols: Vec<&str> = fields.iter().map(|f| model.column_of(f)).collect();
                format!("CONSTRAINT {name} UNIQUE ({})", self.ident_list(&cols))
            }
            // The expression is SQL the user wrote (SPEC §5.6): used as written.
            ConstraintKind::Check { expr } => format!("CONSTRAINT {name} CHECK ({})", expr.trim()),
        })
    }

    /// `AddConstraint`: `ALTER TABLE "t" ADD CONSTRAINT ...`.
    fn add_constraint(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let model = change.after;
        let constraint = constraint_of(model, name)?;
        Ok(OperationSql::new(vec![self.alter_table(
            &model.table,
            &format!("ADD {}", self.constraint_def(model, constraint)?),
        )]))
    }

    /// `RemoveConstraint`: `ALTER TABLE "t" DROP CONSTRAINT "n"`.
    fn remove_constraint(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let model = change.before;
        constraint_of(model, name)?;
        Ok(OperationSql::new(vec![self.alter_table(
            &model.table,
            &format!("DROP CONSTRAINT {}", self.ident(name)),
        )]))
    }

    /// `ALTER TABLE "t" <clause>`.
    fn alter_table(&self, table: &str, clause: &str) -> String {
        format!("ALTER TABLE {} {clause}", self.ident(table))
    }

    /// Statements that add a UNIQUE constraint on an existing column.
    fn add_unique(&self, model: &ModelState, field: &FieldState) -> String {
        self.alter_table(
            &model.table,
            &format!(
                "ADD CONSTRAINT {} UNIQUE ({})",
                self.ident(&unique_name(&model.table, field.column())),
                self.ident(field.column())
            ),
        )
    }

    /// Statements that drop the UNIQUE constraint of `column`.
    fn drop_unique(&self, table: &str, column: &str) -> String {
        self.alter_table(
            table,
            &format!(
                "DROP CONSTRAINT {}",
                self.ident(&unique_name(table, column))
            ),
        )
    }

    /// Statements that add the foreign key of `field` to an existing table.
    fn add_foreign_key(&self, model: &ModelState, field: &FieldState) -> Vec<String> {
        self.foreign_key_constraints(model, field)
            .into_iter()
            .map(|c| self.alter_table(&model.table, &format!("ADD {c}")))
            .collect()
    }

    /// Statements that drop the foreign key of `column`.
    fn drop_foreign_key(&self, table: &str, column: &str) -> Vec<String> {
        vec![self.alter_table(
            table,
            &format!("DROP CONSTRAINT {}", self.ident(&fk_name(table, column))),
        )]
    }

    /// Statements that replace the primary key of `before` by the one of `after`.
    fn change_primary_key(&self, change: &ModelChange<'_>) -> Result<Vec<String>, DialectError>;

    /// `ALTER TABLE "t" ADD PRIMARY KEY (...)`; nothing when the model has no primary key.
    fn add_primary_key(&self, model: &ModelState) -> Vec<String> {
        let cols = primary_key_columns(model);
        if cols.is_empty() {
            return Vec::new();
        }
        vec![self.alter_table(
            &model.table,
            &format!("ADD PRIMARY KEY ({})", self.ident_list(&cols)),
        )]
    }

    // ----- operations -----

    /// The SQL of an online operation (`online = true`: it must not lock the table for
    /// long), or `None` where the plain SQL is what this database does (SQLite has one
    /// writer and nothing to gain). `after` is the schema after the operation.
    fn online_operation(
        &self,
        _app: &str,
        _op: &Operation,
        _before: &ProjectState,
        _after: &ProjectState,
    ) -> Result<Option<OperationSql>, DialectError> {
        Ok(None)
    }

    /// The SQL of one operation, given the state before it.
    fn operation(
        &self,
        app: &str,
        op: &Operation,
        before: &ProjectState,
    ) -> Result<OperationSql, DialectError> {
        // The operation's own models after it: all the SQL needs of the new schema (the whole
        // state is checked where the plan replays it).
        let mut after = before.touched_by(app, op);
        after.apply(app, op)?;
        if op.is_online()
            && let Some(sql) = self.online_operation(app, op, before, &after)?
        {
            return Ok(sql);
        }
        let model_in = |state: &'_ ProjectState, name: &str| -> Result<ModelState, DialectError> {
            state.model(app, name).cloned().ok_or_else(|| {
                DialectError::State(StateError::new(format!(
                    "model `{app}.{name}` does not exist"
                )))
            })
        };
        match op {
            Operation::CreateModel(c) => {
                let model = model_in(&after, &c.model)?;
                Ok(OperationSql::new(vec![
                    self.create_table(&model, &model.table)?,
                ]))
            }
            Operation::DeleteModel(d) => {
                let model = model_in(before, &d.model)?;
                Ok(OperationSql::new(vec![self.drop_table(&model)]))
            }
            Operation::AddField(a) if a.fill.is_some() => {
                // Added with the one-off value as its default, which is then dropped.
                let mut with_default = a.clone();
                with_default.default = a.fill.clone();
                with_default.fill = None;
                let with_default = Operation::AddField(with_default);
                let first = self.operation(app, &with_default, before)?;
                let mut added = before.clone();
                added.apply(app, &with_default)?;
                let mut plain = a.clone();
                plain.fill = None;
                let second = self.operation(app, &Operation::AlterField(plain), &added)?;
                Ok(first.then(second))
            }
            Operation::AlterField(a) if a.fill.is_some() => {
                let model = model_in(before, &a.model)?;
                let old = field_of(&model, &a.name)?;
                let value = self.literal(&a.field(), a.fill.as_ref().expect("matched"))?;
                let col = self.ident(old.column());
                let update = OperationSql::new(vec![format!(
                    "UPDATE {} SET {col} = {value} WHERE {col} IS NULL",
                    self.ident(&model.table)
                )]);
                let mut plain = a.clone();
                plain.fill = None;
                Ok(update.then(self.operation(app, &Operation::AlterField(plain), before)?))
            }
            Operation::AddField(a) => {
                let models = (model_in(before, &a.model)?, model_in(&after, &a.model)?);
                self.add_field(&ModelChange::new(app, before, &models), &a.name)
            }
            Operation::RemoveField(r) => {
                let models = (model_in(before, &r.model)?, model_in(&after, &r.model)?);
                self.remove_field(&ModelChange::new(app, before, &models), &r.name)
            }
            Operation::AlterField(a) => {
                let models = (model_in(before, &a.model)?, model_in(&after, &a.model)?);
                self.alter_field(&ModelChange::new(app, before, &models), &a.name)
            }
            Operation::CreateIndex(c) => {
                let model = model_in(&after, &c.model)?;
                let index = model.index(&c.name).expect("CreateIndex added the index");
                Ok(OperationSql::new(vec![self.create_index(&model, index)?]))
            }
            Operation::DropIndex(d) => {
                let model = model_in(before, &d.model)?;
                Ok(OperationSql::new(vec![self.drop_index(&model, &d.name)]))
            }
            Operation::RenameModel(r) => {
                let models = (
                    model_in(before, &r.old_name)?,
                    model_in(&after, &r.new_name)?,
                );
                if models.0.table == models.1.table {
                    return Ok(OperationSql::new(Vec::new()));
                }
                Ok(OperationSql::new(
                    self.rename_table_sql(&models.0, &models.1),
                ))
            }
            Operation::RenameField(r) => {
                let (old, new) = (model_in(before, &r.model)?, model_in(&after, &r.model)?);
                // The model as if only the field's name had changed, on its old column: the
                // column rename (and its constraints) is then an AlterField.
                let field = field_of(&old, &r.old_name)?;
                let mut renamed = old.clone();
                let old_column = field.column().to_owned();
                for f in &mut renamed.fields {
                    if f.name == r.old_name {
                        f.name.clone_from(&r.new_name);
                        f.column = Some(old_column.clone());
                    }
                }
                renamed.rename_field_references(&r.old_name, &r.new_name);
                if field_of(&new, &r.new_name)?.column() == old_column {
                    return Ok(OperationSql::new(Vec::new()));
                }
                let models = (renamed, new);
                self.alter_field(&ModelChange::new(app, before, &models), &r.new_name)
            }
            Operation::RenameIndex(r) => {
                let model = model_in(&after, &r.model)?;
                let index = model
                    .index(&r.new_name)
                    .expect("RenameIndex renamed the index");
                Ok(OperationSql::new(self.rename_index_sql(
                    &model,
                    &r.old_name,
                    index,
                )?))
            }
            Operation::AddConstraint(a) => {
                let models = (model_in(before, &a.model)?, model_in(&after, &a.model)?);
                self.add_constraint(&ModelChange::new(app, before, &models), &a.name)
            }
            Operation::RemoveConstraint(r) => {
                let models = (model_in(before, &r.model)?, model_in(&after, &r.model)?);
                self.remove_constraint(&ModelChange::new(app, before, &models), &r.name)
            }
            // Rust code, not SQL: the executor calls the registered function.
            Operation::RunRust(_) => Ok(OperationSql::new(Vec::new())),
            Operation::RunSql(r) => {
                let sql = r.forward.trim();
                Ok(OperationSql::new(if sql.is_empty() {
                    Vec::new()
                } else {
                    vec![sql.to_owned()]
                }))
            }
        }
    }

    /// `RenameModel` with a new table: rename the table. Dialects that refer to constraints
    /// by names derived from the table rename those too, so later operations find them.
    /// Foreign keys of other tables follow the rename on every supported database.
    fn rename_table_sql(&self, before: &ModelState, after: &ModelState) -> Vec<String> {
        vec![self.alter_table(
            &before.table,
            &format!("RENAME TO {}", self.ident(&after.table)),
        )]
    }

    /// `RenameIndex`: by default drop and create again (SQLite cannot rename an index).
    fn rename_index_sql(
        &self,
        model: &ModelState,
        old_name: &str,
        index: &IndexState,
    ) -> Result<Vec<String>, DialectError> {
        Ok(vec![
            self.drop_index(model, old_name),
            self.create_index(model, index)?,
        ])
    }

    /// `AddField`: `ALTER TABLE ... ADD COLUMN`, then the primary key, UNIQUE and foreign key
    /// that could not be written inline.
    fn add_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let model = change.after;
        let field = field_of(model, name)?;
        let mut stmts = vec![self.alter_table(
            &model.table,
            &format!(
                "ADD COLUMN {}",
                self.column_def(model, field, ColumnUse::AddColumn)?
            ),
        )];
        if has_unique(model, field) && self.inline_unique(model, field).is_none() {
            stmts.push(self.add_unique(model, field));
        }
        if field.primary_key {
            stmts.extend(self.change_primary_key(change)?);
        }
        stmts.extend(self.add_foreign_key(model, field));
        Ok(OperationSql::new(stmts))
    }

    /// `RemoveField`: drop the column's foreign key, then the column, then restore what is
    /// left of a composite primary key.
    fn remove_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError> {
        let model = change.before;
        let field = field_of(model, name)?;
        let mut stmts = Vec::new();
        if field.foreign_key.is_some() {
            stmts.extend(self.drop_foreign_key(&model.table, field.column()));
        }
        stmts.push(self.alter_table(
            &model.table,
            &format!("DROP COLUMN {}", self.ident(field.column())),
        ));
        if field.primary_key && !change.after.primary_key().is_empty() {
            stmts.extend(self.restore_primary_key_after_drop(change)?);
        }
        Ok(OperationSql::new(stmts))
    }

    /// After dropping a column of a composite primary key: statements that give the table
    /// the primary key of the remaining key fields. `DROP COLUMN` drops every constraint the
    /// column is part of, so the key is added again.
    fn restore_primary_key_after_drop(
        &self,
        change: &ModelChange<'_>,
    ) -> Result<Vec<String>, DialectError> {
        Ok(self.add_primary_key(change.after))
    }

    /// `AlterField`: dialect-specific.
    fn alter_field(
        &self,
        change: &ModelChange<'_>,
        name: &str,
    ) -> Result<OperationSql, DialectError>;
}

impl OperationSql {
    /// Statements that need no table rebuild.
    pub(crate) fn new(statements: Vec<String>) -> Self {
        OperationSql {
            statements,
            rebuilds_table: false,
            outside_transaction: false,
            when_empty: None,
        }
    }

    /// Statements that each commit on their own (see
    /// [`outside_transaction`](OperationSql::outside_transaction)).
    pub(crate) fn outside_transaction(statements: Vec<String>) -> Self {
        OperationSql {
            statements,
            rebuilds_table: false,
            outside_transaction: true,
            when_empty: None,
        }
    }

    /// This SQL followed by `next`.
    pub(crate) fn then(mut self, next: OperationSql) -> Self {
        // The shortcut for an empty table stands for all the statements, or for none.
        self.when_empty = match (self.statements.is_empty(), next.statements.is_empty()) {
            (true, _) => next.when_empty,
            (_, true) => self.when_empty,
            _ => None,
        };
        self.statements.extend(next.statements);
        self.rebuilds_table |= next.rebuilds_table;
        self.outside_transaction |= next.outside_transaction;
        self
    }
}

/// The field `name` of `model`, or a state error.
pub(crate) fn field_of<'a>(
    model: &'a ModelState,
    name: &str,
) -> Result<&'a FieldState, DialectError> {
    model.field(name).ok_or_else(|| {
        DialectError::State(StateError::new(format!(
            "`{}.{name}` does not exist",
            model.name
        )))
    })
}

/// The constraint `name` of `model`, or a state error.
pub(crate) fn constraint_of<'a>(
    model: &'a ModelState,
    name: &str,
) -> Result<&'a ConstraintState, DialectError> {
    model.constraint(name).ok_or_else(|| {
        DialectError::State(StateError::new(format!(
            "`{}` has no constraint `{name}`",
            model.name
        )))
    })
}

/// The name of the foreign key constraint of `table.column`: `{table}_{column}_fkey`.
pub fn fk_name(table: &str, column: &str) -> String {
    short_identifier(&format!("{table}_{column}_fkey"), MAX_IDENTIFIER_LEN)
}

/// The name of the UNIQUE constraint of `table.column`: `{table}_{column}_key`.
pub fn unique_name(table: &str, column: &str) -> String {
    short_identifier(&format!("{table}_{column}_key"), MAX_IDENTIFIER_LEN)
}

/// The only primary key field of its model.
pub(crate) fn is_single_primary_key(model: &ModelState, field: &FieldState) -> bool {
    field.primary_key && model.fields.iter().filter(|f| f.primary_key).count() == 1
}

/// Whether the field gets a UNIQUE constraint: a UNIQUE on the only primary key column would
/// duplicate the primary key's index, so it is left out.
pub(crate) fn has_unique(model: &ModelState, field: &FieldState) -> bool {
    field.unique && !is_single_primary_key(model, field)
}

/// The checks every dialect makes on a field (see [`Dialect::check_field`]).
pub(crate) fn check_field_common<D: Dialect + ?Sized>(
    d: &D,
    model: &ModelState,
    field: &FieldState,
) -> Result<(), DialectError> {
    if field.auto_increment && !field.field_type.is_integer() {
        return Err(d.unsupported(format!(
            "auto-increment `{}.{}` of type {}; only integer fields can auto-increment",
            model.name, field.name, field.field_type
        )));
    }
    if field.auto_increment && (field.default.is_some() || field.db_default.is_some()) {
        return Err(d.unsupported(format!(
            "give auto-increment `{}.{}` a default; remove `default`/`db_default` or `auto_increment`",
            model.name, field.name
        )));
    }
    if field.field_type == FieldType::Decimal && field.scale.is_some() && field.precision.is_none()
    {
        return Err(d.unsupported(format!(
            "declare `{}.{}` with a scale but no precision; add `precision = ...`",
            model.name, field.name
        )));
    }
    if let Some(fk) = &field.foreign_key {
        d.check_foreign_key(model, field, fk)?;
    }
    Ok(())
}

/// The names of the primary key fields, which (unlike columns) a rename does not change.
pub(crate) fn primary_key_fields(model: &ModelState) -> Vec<&str> {
    model
        .primary_key()
        .iter()
        .map(|f| f.name.as_str())
        .collect()
}

/// The columns of the primary key, in declaration order.
pub(crate) fn primary_key_columns(model: &ModelState) -> Vec<&str> {
    model.primary_key().iter().map(|f| f.column()).collect()
}

/// A float literal with a decimal point (`1.0`, `0.25`); `None` for NaN and infinities.
pub(crate) fn float_literal(x: f64) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    let s = format!("{x}");
    Some(if s.contains('.') { s } else { format!("{s}.0") })
}

/// True for a constant SQL literal: a number, a string, a blob (`X'..'`), NULL, TRUE or FALSE.
pub(crate) fn is_constant_literal(expr: &str) -> bool {
    let e = expr.trim();
    let upper = e.to_ascii_uppercase();
    if matches!(upper.as_str(), "NULL" | "TRUE" | "FALSE") {
        return true;
    }
    if is_string_literal(e) {
        return true;
    }
    if (upper.starts_with("X'") || upper.starts_with("B'")) && is_string_literal(&e[1..]) {
        return true;
    }
    is_number(e.strip_prefix(['+', '-']).unwrap_or(e))
}

/// `'...'` with every inner quote doubled.
fn is_string_literal(e: &str) -> bool {
    let Some(inner) = e.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) else {
        return false;
    };
    if e.len() < 2 {
        return false;
    }
    inner.replace("''", "").find('\'').is_none()
}

/// Digits with an optional decimal point and exponent.
fn is_number(e: &str) -> bool {
    let (mantissa, exponent) = match e.find(['e', 'E']) {
        Some(i) => (&e[..i], Some(&e[i + 1..])),
        None => (e, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|x| {
        let x = x.strip_prefix(['+', '-']).unwrap_or(x);
        !x.is_empty() && digits(x)
    });
    mantissa_ok && exponent_ok
}

/// True when the whole expression is inside one pair of parentheses: `(a + b)` but not
/// `(a) + (b)`. Quoted strings and identifiers are skipped.
pub(crate) fn is_parenthesized(expr: &str) -> bool {
    let e = expr.trim();
    if !e.starts_with('(') || !e.ends_with(')') {
        return false;
    }
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in e.char_indices() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && i + 1 != e.len() {
                        return false;
                    }
                }
                _ => {}
            },
        }
    }
    depth == 0
}

/// `(expr)` unless it already is parenthesized.
pub(crate) fn parenthesize(expr: &str) -> String {
    if is_parenthesized(expr) {
        expr.to_owned()
    } else {
        format!("({expr})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_recognized() {
        for yes in [
            "0", "-1", "+2.5", ".5", "1e10", "1.5E-3", "'a''b'", "NULL", "true", "X'00ff'", "''",
        ] {
            assert!(is_constant_literal(yes), "{yes}");
        }
        for no in [
            "CURRENT_TIMESTAMP",
            "(1)",
            "'a'b'",
            "1e",
            "abc",
            "now()",
            "'",
            "1.2.3",
            ".",
        ] {
            assert!(!is_constant_literal(no), "{no}");
        }
    }

    #[test]
    fn parentheses_are_recognized() {
        assert!(is_parenthesized("(a + b)"));
        assert!(is_parenthesized("((a) + (b))"));
        assert!(is_parenthesized("(')')"));
        assert!(!is_parenthesized("(a) + (b)"));
        assert!(!is_parenthesized("now()"));
        assert_eq!(parenthesize("now()"), "(now())");
        assert_eq!(parenthesize("(1)"), "(1)");
    }

    #[test]
    fn floats_keep_a_decimal_point() {
        assert_eq!(float_literal(1.0).as_deref(), Some("1.0"));
        assert_eq!(float_literal(-0.25).as_deref(), Some("-0.25"));
        assert_eq!(
            float_literal(1e20).as_deref(),
            Some("100000000000000000000.0")
        );
        assert_eq!(float_literal(f64::NAN), None);
    }
}
