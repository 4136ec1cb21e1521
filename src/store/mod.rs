//! SQLite storage: schema and migrations, the single writer thread, retention.
