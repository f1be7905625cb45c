//! The few real differences between SQLite and PostgreSQL, in one place.

use super::SqliteSync;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!(
                "unsupported database URL {}: use sqlite://… or postgres://…",
                super::redact(url)
            )
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// The backend of a connection (for functions given only a connection).
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// An aggregate joining the text of `expr` over a group with commas.
    pub fn join_text(self, expr: &str) -> String {
        match self {
            Self::Sqlite => format!("group_concat({expr}, ',')"),
            Self::Postgres => format!("string_agg({expr}, ',')"),
        }
    }

    /// The statement that opens a write transaction. SQLite takes the write lock at once so
    /// a read-then-write transaction can never fail to upgrade.
    pub fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// The row-lock clause for a read that precedes a write of the rows of table `alias`.
    /// SQLite needs none: an IMMEDIATE transaction already excludes every other writer.
    pub fn for_update(self, alias: &str) -> String {
        match self {
            Self::Sqlite => String::new(),
            Self::Postgres => format!(" FOR UPDATE OF {alias}"),
        }
    }

    /// The row-lock clause for rows of `alias` that several nodes share out: each takes rows
    /// no other has locked, without waiting. SQLite needs none (one writer).
    pub fn skip_locked(self, alias: &str) -> String {
        match self {
            Self::Sqlite => String::new(),
            Self::Postgres => format!(" FOR UPDATE OF {alias} SKIP LOCKED"),
        }
    }
}

impl Backend {
    /// Rows per multi-row INSERT with `params_per_row` parameters each. SQLite looks every
    /// bound parameter up by name in a list, so a wide statement costs quadratically: about
    /// 128 parameters a statement is its sweet spot. PostgreSQL takes up to 65,535 and each
    /// statement is a round trip: the wider the better, within reason.
    pub fn rows_per_insert(self, params_per_row: usize) -> usize {
        let budget = match self {
            Self::Sqlite => 128,
            Self::Postgres => 4096,
        };
        (budget / params_per_row.max(1)).max(1)
    }

    /// A statement that makes concurrent audit sealers take turns (PostgreSQL: a transaction-
    /// scoped advisory lock; SQLite: its single writer does it already).
    pub fn serialize_sealers(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            Self::Postgres => Some("SELECT pg_advisory_xact_lock(727001)"),
        }
    }
}

/// Per-connection settings for SQLite.
/// Reads go through a memory map of the file (256 MiB: the operating system's page cache,
/// shared by every connection, instead of a copy per connection) and each connection keeps 16
/// MiB of pages: a ledger of 20,000 staff reads its people without going back to the file.
pub fn sqlite_pragmas(sync: SqliteSync) -> &'static str {
    match sync {
        SqliteSync::Normal => {
            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; \
             PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16384;"
        }
        SqliteSync::Full => {
            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; \
             PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16384;"
        }
    }
}

#[cfg(test)]
mod tests {
    /// A migration as statements to compare: comments and blank lines gone, whitespace folded,
    /// PostgreSQL's types written as SQLite's (`BIGINT` identity keys as `INTEGER PRIMARY KEY`,
    /// `BIGINT` as `INTEGER`, `BYTEA` as `BLOB`), PostgreSQL's storage settings
    /// (`ALTER TABLE … SET (…)`, which SQLite has no words for) left out.
    fn comparable(sql: &str, postgres: bool) -> Vec<String> {
        let text: String = sql
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ");
        text.split(';')
            .map(|s| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .replace("( ", "(")
                    .replace(" )", ")")
            })
            .filter(|s| !s.is_empty())
            .filter(|s| !(postgres && s.starts_with("ALTER TABLE") && s.contains(" SET (")))
            .map(|s| {
                if postgres {
                    s.replace(
                        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                        "INTEGER PRIMARY KEY",
                    )
                    .replace("BIGINT", "INTEGER")
                    .replace("BYTEA", "BLOB")
                    .replace("DOUBLE PRECISION", "REAL")
                } else {
                    s
                }
            })
            .collect()
    }

    /// The two migration folders say the same, statement for statement, but for the dialects'
    /// types: a migration written for one database and not the other, or changed in one only,
    /// fails here.
    #[test]
    fn the_two_migration_folders_differ_only_by_dialect() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let names = |dir: &str| -> Vec<String> {
            let mut n: Vec<String> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        let (sqlite, postgres) = (names("sqlite"), names("postgres"));
        assert_eq!(sqlite, postgres, "each migration exists for both databases");
        assert!(sqlite.len() >= 13);
        for name in &sqlite {
            let read = |dir: &str| std::fs::read_to_string(root.join(dir).join(name)).unwrap();
            let (a, b) = (
                comparable(&read("sqlite"), false),
                comparable(&read("postgres"), true),
            );
            assert_eq!(a.len(), b.len(), "{name}: statement counts differ");
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x, y, "{name}: the databases' migrations differ");
            }
        }
    }

    #[test]
    fn a_drift_is_seen() {
        let sqlite = "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); -- note";
        let same = "CREATE TABLE t (\n  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  n BIGINT NOT NULL\n);\nALTER TABLE t SET (fillfactor = 85);";
        let drifted =
            "CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n BIGINT);";
        assert_eq!(comparable(sqlite, false), comparable(same, true));
        assert_ne!(comparable(sqlite, false), comparable(drifted, true));
    }
}
