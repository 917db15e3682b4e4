"""Third-party apps, their authorization codes and their tokens (only hashes of secrets)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from likeness.store.tables import Base, UTCDateTime


class App(Base):
    """A third-party app registered by the owner (an OAuth 2 public client: PKCE, no secret).
    It may ask, through the owner's approval, for generations of people who granted it."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the OAuth client_id
    name: Mapped[str] = mapped_column(String(100))
    redirect_uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppCode(Base):
    """An authorization code (only its SHA-256 is kept): single use, short-lived, bound to
    the app, its redirect URI and its PKCE challenge."""

    __tablename__ = "app_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    people: Mapped[str] = mapped_column(Text)  # JSON list of person ids
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The consent grants the approval signed (JSON list of ids).
    grants: Mapped[str | None] = mapped_column(Text)
    #: When the code, already used, was presented again.
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppToken(Base):
    """An app's access token (only its SHA-256 is kept), limited to scopes, people and an
    expiry, and to the code it was issued on (a replayed code revokes it)."""

    __tablename__ = "app_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(Text)
    people: Mapped[str] = mapped_column(Text)  # JSON list of person ids
    #: The consent grants it rests on (JSON list of ids): each must stay in force.
    grants: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
