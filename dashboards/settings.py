"""Settings of the search API and page."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DashboardSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    host: str = "127.0.0.1"
    """Interface to listen on (loopback by default: put a proxy with auth in front)."""
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    """How people reach the page (for links in notifications); default http://host:port."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Records the indexer takes from the bus per bulk request."""

    def url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
