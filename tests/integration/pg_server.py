"""PostgresServer: where a throw-away test server's files are and how to reach it (its own
module, so that test files import it by a name no other conftest.py shadows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PostgresServer:
    """A running test server: where its files are and how to reach it."""

    bin_dir: Path
    base_dir: Path
    port: int
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        """Server log, shown when the server fails to start."""
        return self.base_dir / "server.log"

    def url(self, database: str) -> str:
        """SQLAlchemy URL of one database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def command(self, tool: str, *args: str) -> list[str]:
        """Command line running a server tool, as the postgres user when we are root."""
        line = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", self.run_as, "--", *line] if self.run_as else line

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction in the maintenance database."""
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.encode())
