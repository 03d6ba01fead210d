-- Tenants own API keys and generations; a tenant sees only its own rows (docs/architecture.md §5).
CREATE TABLE tenants (
    name        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys are stored as SHA-256 hashes only; the prefix lets an operator recognise a key without revealing it.
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    tenant      text NOT NULL REFERENCES tenants(name),
    key_hash    bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,
    is_admin    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- One row per generation. Ids are UUIDv7, so ordering by id is ordering by creation time (cursor pagination).
-- dispatched_at IS NULL marks the outbox: rows committed by the API that no Hangfire job exists for yet.
CREATE TABLE generations (
    id               uuid PRIMARY KEY,
    tenant           text NOT NULL,
    model            text NOT NULL,
    queue            text NOT NULL,
    status           text NOT NULL,
    input            jsonb NOT NULL,
    first_frame_key  text,
    created_at       timestamptz NOT NULL,
    dispatched_at    timestamptz,
    job_id           text,
    started_at       timestamptz,
    finished_at      timestamptz,
    phase            text,
    step             integer NOT NULL DEFAULT 0,
    total_steps      integer NOT NULL,
    progress_at      timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    worker           text,
    error_code       text,
    error_message    text,
    video_key        text,
    video_etag       text,
    video_bytes      bigint,
    thumbnail_key    text,
    timings          jsonb,
    reproducibility  jsonb,
    expires_at       timestamptz
);
CREATE INDEX generations_tenant_id ON generations (tenant, id DESC);
CREATE INDEX generations_tenant_status_id ON generations (tenant, status, id DESC);
CREATE INDEX generations_outbox ON generations (id) WHERE dispatched_at IS NULL;
CREATE INDEX generations_queued ON generations (queue, id) WHERE status = 'queued';

-- Worker processes announce themselves and whether their model is usable (read by /health/ready and /v1/models).
CREATE TABLE workers (
    name          text PRIMARY KEY,
    model         text NOT NULL,
    queue         text NOT NULL,
    ready         boolean NOT NULL,
    detail        text NOT NULL,
    device        text NOT NULL,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL
);
