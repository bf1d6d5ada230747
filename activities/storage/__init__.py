"""PostgreSQL storage: connection pool, versioned migrations, storage activities."""
