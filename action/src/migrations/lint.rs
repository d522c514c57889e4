//! `bluegreen migrations lint`: an expand migration must leave a schema the
//! running (old) version still works with, because both colors share the
//! database until the contract step. A real SQL parser (sqlparser) reads
//! each statement; what breaks the old version is flagged with its file and
//! line: dropping a table or column, renaming one, changing a column's type,
//! and making a column required without a default (the old version's
//! inserts leave it out).

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, ObjectType, Statement,
};
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// The SQL dialects the lint reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqlDialect {
    Postgres,
    Mysql,
    Generic,
}

impl SqlDialect {
    fn dialect(self) -> Box<dyn Dialect> {
        match self {
            SqlDialect::Postgres => Box::new(PostgreSqlDialect {}),
            SqlDialect::Mysql => Box::new(MySqlDialect {}),
            SqlDialect::Generic => Box::new(GenericDialect {}),
        }
    }
}

/// One statement that breaks the old version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub file: String,
    /// The line the statement starts on (1-based).
    pub line: u64,
    pub rule: &'static str,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.rule, self.message
        )
    }
}

/// SQL the parser cannot read: the lint cannot vouch for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub file: String,
    pub error: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: cannot parse: {}", self.file, self.error)
    }
}

/// The findings in `sql` (named `file` in them).
pub fn lint(file: &str, sql: &str, dialect: SqlDialect) -> Result<Vec<Finding>, Unreadable> {
    let unreadable = |error: String| Unreadable {
        file: file.to_string(),
        error,
    };
    let dialect = dialect.dialect();
    let statements =
        Parser::parse_sql(dialect.as_ref(), sql).map_err(|e| unreadable(e.to_string()))?;
    let lines = statement_lines(dialect.as_ref(), sql).map_err(|e| unreadable(e.to_string()))?;
    let mut findings = vec![];
    for (i, statement) in statements.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(1);
        for (rule, message) in breaks_old_version(statement) {
            findings.push(Finding {
                file: file.to_string(),
                line,
                rule,
                message,
            });
        }
    }
    Ok(findings)
}

/// The line each statement starts on: the first token after the previous
/// statement's `;` (the parser's own spans are not filled for every kind of
/// statement; the tokenizer's locations are).
fn statement_lines(
    dialect: &dyn Dialect,
    sql: &str,
) -> Result<Vec<u64>, sqlparser::tokenizer::TokenizerError> {
    let tokens = Tokenizer::new(dialect, sql).tokenize_with_location()?;
    let mut lines = vec![];
    let mut in_statement = false;
    for t in tokens {
        match t.token {
            Token::Whitespace(_) => {}
            Token::SemiColon => in_statement = false,
            _ if !in_statement => {
                in_statement = true;
                lines.push(t.span.start.line);
            }
            _ => {}
        }
    }
    Ok(lines)
}

/// What in `statement` breaks a version that still runs against the schema.
fn breaks_old_version(statement: &Statement) -> Vec<(&'static str, String)> {
    let mut found = vec![];
    match statement {
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            ..
        } => {
            let names: Vec<String> = names.iter().map(ToString::to_string).collect();
            found.push((
                "drop-table",
                format!(
                    "DROP TABLE {} removes a table the running version reads; drop it in the contract migration",
                    names.join(", ")
                ),
            ));
        }
        Statement::RenameTable(renames) => {
            for r in renames {
                found.push((
                    "rename",
                    format!(
                        "RENAME TABLE {} TO {}: the running version still uses the old name; add the new table (or a view) and contract later",
                        r.old_name, r.new_name
                    ),
                ));
            }
        }
        Statement::AlterTable(alter) => {
            let table = alter.name.to_string();
            let defaulted: Vec<String> = alter
                .operations
                .iter()
                .filter_map(|op| match op {
                    AlterTableOperation::AlterColumn {
                        column_name,
                        op: AlterColumnOperation::SetDefault { .. },
                    } => Some(column_name.value.clone()),
                    _ => None,
                })
                .collect();
            for op in &alter.operations {
                if let Some(f) = operation(&table, op, &defaulted) {
                    found.push(f);
                }
            }
        }
        _ => {}
    }
    found
}

fn operation(
    table: &str,
    op: &AlterTableOperation,
    defaulted: &[String],
) -> Option<(&'static str, String)> {
    match op {
        AlterTableOperation::DropColumn { column_names, .. } => {
            let columns: Vec<String> = column_names.iter().map(|c| c.value.clone()).collect();
            Some((
                "drop-column",
                format!(
                    "ALTER TABLE {table} DROP COLUMN {} removes what the running version reads; drop it in the contract migration",
                    columns.join(", ")
                ),
            ))
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => Some((
            "rename",
            format!(
                "ALTER TABLE {table} RENAME COLUMN {old_column_name} TO {new_column_name}: the running version still uses the old name; add the new column, copy, and contract later"
            ),
        )),
        AlterTableOperation::RenameTable { table_name } => Some((
            "rename",
            format!(
                "ALTER TABLE {table} RENAME {table_name}: the running version still uses the old name"
            ),
        )),
        AlterTableOperation::ChangeColumn {
            old_name, new_name, ..
        } => Some(if old_name.value != new_name.value {
            (
                "rename",
                format!(
                    "ALTER TABLE {table} CHANGE {old_name} {new_name}: renames a column the running version still uses"
                ),
            )
        } else {
            (
                "change-type",
                format!(
                    "ALTER TABLE {table} CHANGE {old_name}: redefines a column the running version reads and writes"
                ),
            )
        }),
        AlterTableOperation::ModifyColumn { col_name, .. } => Some((
            "change-type",
            format!(
                "ALTER TABLE {table} MODIFY {col_name}: redefines a column the running version reads and writes"
            ),
        )),
        AlterTableOperation::AlterColumn {
            column_name,
            op: AlterColumnOperation::SetDataType { data_type, .. },
        } => Some((
            "change-type",
            format!(
                "ALTER TABLE {table} ALTER COLUMN {column_name} TYPE {data_type}: the running version reads and writes the old type; add a column of the new type instead"
            ),
        )),
        AlterTableOperation::AlterColumn {
            column_name,
            op: AlterColumnOperation::SetNotNull,
        } if !defaulted.contains(&column_name.value) => Some((
            "not-null-without-default",
            format!(
                "ALTER TABLE {table} ALTER COLUMN {column_name} SET NOT NULL without a default: the running version's inserts that leave it out fail"
            ),
        )),
        AlterTableOperation::AddColumn { column_def, .. }
            if required_without_default(column_def) =>
        {
            Some((
                "not-null-without-default",
                format!(
                    "ALTER TABLE {table} ADD COLUMN {} NOT NULL without a default: the running version's inserts do not know it and fail",
                    column_def.name
                ),
            ))
        }
        _ => None,
    }
}

fn required_without_default(column: &ColumnDef) -> bool {
    let has = |wanted: fn(&ColumnOption) -> bool| column.options.iter().any(|o| wanted(&o.option));
    has(|o| matches!(o, ColumnOption::NotNull)) && !has(|o| matches!(o, ColumnOption::Default(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str, dialect: SqlDialect) -> Vec<(u64, &'static str)> {
        lint("m.sql", sql, dialect)
            .unwrap()
            .into_iter()
            .map(|f| (f.line, f.rule))
            .collect()
    }

    #[test]
    fn additive_statements_pass() {
        let sql = "CREATE TABLE orders (id bigint PRIMARY KEY);\n\
                   ALTER TABLE orders ADD COLUMN note text;\n\
                   ALTER TABLE orders ADD COLUMN state text NOT NULL DEFAULT 'new';\n\
                   CREATE INDEX orders_state ON orders (state);";
        assert_eq!(rules(sql, SqlDialect::Postgres), vec![]);
    }

    #[test]
    fn each_destructive_statement_is_named_with_its_line() {
        let sql = "ALTER TABLE orders ADD COLUMN a text;\n\
                   ALTER TABLE orders DROP COLUMN note;\n\
                   \n\
                   DROP TABLE legacy;\n\
                   ALTER TABLE orders RENAME COLUMN state TO status;\n\
                   ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);\n\
                   ALTER TABLE orders ALTER COLUMN email SET NOT NULL;\n\
                   ALTER TABLE orders ALTER COLUMN email SET DEFAULT '', ALTER COLUMN email SET NOT NULL;\n\
                   ALTER TABLE orders ADD COLUMN owner bigint NOT NULL;";
        assert_eq!(
            rules(sql, SqlDialect::Postgres),
            vec![
                (2, "drop-column"),
                (4, "drop-table"),
                (5, "rename"),
                (6, "change-type"),
                (7, "not-null-without-default"),
                (9, "not-null-without-default"),
            ]
        );
    }

    #[test]
    fn mysql_spellings_too() {
        let sql = "ALTER TABLE orders CHANGE note remark TEXT;\n\
                   ALTER TABLE orders MODIFY total DECIMAL(12,2) NOT NULL;\n\
                   RENAME TABLE orders TO purchases;\n\
                   ALTER TABLE orders ADD COLUMN note2 TEXT;";
        assert_eq!(
            rules(sql, SqlDialect::Mysql),
            vec![(1, "rename"), (2, "change-type"), (3, "rename")]
        );
    }

    #[test]
    fn sql_it_cannot_read_is_an_error_not_a_pass() {
        let e = lint("bad.sql", "ALTER TABLE ;", SqlDialect::Postgres).unwrap_err();
        assert!(e.to_string().starts_with("bad.sql: cannot parse"), "{e}");
    }
}
