-- Service contract (issue 8): webhooks, a per-generation event log for SSE, idempotency keys, cancellation.

-- One webhook signing secret per tenant (Standard Webhooks, whsec_<base64>). During a rotation the previous
-- secret keeps signing too until previous_expires_at, so receivers can switch without missing a delivery.
CREATE TABLE webhook_secrets (
    tenant               text PRIMARY KEY,
    secret               bytea NOT NULL,
    previous_secret      bytea,
    previous_expires_at  timestamptz,
    rotated_at           timestamptz NOT NULL DEFAULT now()
);

-- Webhook events, written by the trigger below in the same transaction as the status change they report.
-- UNIQUE (generation_id, type) is what makes "exactly one terminal event per generation" hold even when a job
-- runs twice: the status guards let only one terminal transition happen, and a repeated transition to the same
-- status (running again after a retry) adds no second event.
CREATE TABLE webhook_events (
    id             uuid PRIMARY KEY,
    generation_id  uuid NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
    tenant         text NOT NULL,
    type           text NOT NULL,
    url            text NOT NULL,
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    state          text NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
    attempts       integer NOT NULL DEFAULT 0,
    job_created    boolean NOT NULL DEFAULT false,   -- outbox flag: a delivery job exists
    next_attempt_at timestamptz,
    UNIQUE (generation_id, type)
);
CREATE INDEX webhook_events_outbox ON webhook_events (created_at) WHERE NOT job_created;

-- The delivery log: one row per HTTP attempt.
CREATE TABLE webhook_attempts (
    event_id      uuid NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    error         text,
    duration_ms   double precision NOT NULL,
    PRIMARY KEY (event_id, attempt)
);

-- The event log of each generation (status changes and per-step progress) that SSE streams from. seq is global
-- and increasing, so "every event after Last-Event-ID" is one indexed range read: no gaps, no repeats.
CREATE TABLE generation_events (
    seq            bigserial PRIMARY KEY,
    generation_id  uuid NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
    type           text NOT NULL,   -- status | progress
    data           jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generation_events_generation ON generation_events (generation_id, seq);

-- Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): per tenant; generation_id NULL while in flight.
CREATE TABLE idempotency_keys (
    tenant         text NOT NULL,
    key            text NOT NULL,
    fingerprint    bytea NOT NULL,
    generation_id  uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant, key)
);

-- A client's cancel of a running generation, and the per-request deadline.
ALTER TABLE generations ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE generations ADD COLUMN deadline_at timestamptz;
CREATE INDEX generations_deadline ON generations (deadline_at) WHERE deadline_at IS NOT NULL AND status IN ('queued', 'running');
CREATE INDEX generations_expiry ON generations (expires_at) WHERE expires_at IS NOT NULL AND status <> 'expired';

-- Records every status change and progress step in generation_events, notifies listeners (any API instance) on
-- channel tora_generation with "<generation id> <seq>", and writes the webhook event when the request asked for it.
CREATE FUNCTION tora_generation_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev_type text;
    ev_data jsonb;
    ev_seq bigint;
    hook jsonb;
    eta double precision;
BEGIN
    IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status THEN
        ev_type := 'status';
        ev_data := jsonb_build_object('id', NEW.id, 'status', NEW.status, 'phase', NEW.phase, 'step', NEW.step,
            'total_steps', NEW.total_steps, 'attempts', NEW.attempts,
            'error', CASE WHEN NEW.error_code IS NULL OR NEW.status NOT IN ('failed', 'cancelled') THEN NULL
                          ELSE jsonb_build_object('code', NEW.error_code, 'message', NEW.error_message) END);
    ELSIF OLD.step IS DISTINCT FROM NEW.step OR OLD.phase IS DISTINCT FROM NEW.phase THEN
        ev_type := 'progress';
        IF NEW.step > 0 AND NEW.started_at IS NOT NULL AND NEW.total_steps >= NEW.step THEN
            eta := round((extract(epoch FROM clock_timestamp() - NEW.started_at) / NEW.step * (NEW.total_steps - NEW.step))::numeric, 1);
        END IF;
        ev_data := jsonb_build_object('id', NEW.id, 'status', NEW.status, 'phase', NEW.phase, 'step', NEW.step,
            'total_steps', NEW.total_steps,
            'percent', CASE WHEN NEW.total_steps = 0 THEN 0 ELSE round(100.0 * NEW.step / NEW.total_steps, 1) END,
            'eta_seconds', eta);
    ELSE
        RETURN NEW;
    END IF;
    INSERT INTO generation_events (generation_id, type, data) VALUES (NEW.id, ev_type, ev_data) RETURNING seq INTO ev_seq;
    PERFORM pg_notify('tora_generation', NEW.id::text || ' ' || ev_seq::text);

    hook := NEW.input -> 'webhook';
    IF ev_type = 'status' AND hook IS NOT NULL AND jsonb_typeof(hook) = 'object'
       AND NEW.status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')
       AND (hook -> 'events') ? ('generation.' || NEW.status) THEN
        INSERT INTO webhook_events (id, generation_id, tenant, type, url, payload)
        VALUES (gen_random_uuid(), NEW.id, NEW.tenant, 'generation.' || NEW.status, hook ->> 'url',
            jsonb_build_object(
                'type', 'generation.' || NEW.status,
                'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'data', jsonb_build_object(
                    'id', NEW.id, 'object', 'generation', 'status', NEW.status, 'model', NEW.model,
                    'error', CASE WHEN NEW.error_code IS NULL OR NEW.status NOT IN ('failed', 'cancelled') THEN NULL
                                  ELSE jsonb_build_object('code', NEW.error_code, 'message', NEW.error_message) END,
                    'urls', jsonb_build_object('self', '/v1/generations/' || NEW.id,
                        'video', CASE WHEN NEW.status = 'succeeded' THEN '/v1/generations/' || NEW.id || '/video' END,
                        'thumbnail', CASE WHEN NEW.status = 'succeeded' THEN '/v1/generations/' || NEW.id || '/thumbnail' END),
                    'metadata', NEW.input -> 'metadata')))
        ON CONFLICT (generation_id, type) DO NOTHING;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER generations_changed AFTER INSERT OR UPDATE ON generations
    FOR EACH ROW EXECUTE FUNCTION tora_generation_changed();

-- Retention: when a generation reaches a terminal status its expiry is set from the request's resolved
-- expires_after (seconds); the retention job then deletes its files and marks it expired.
CREATE FUNCTION tora_generation_set_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('succeeded', 'failed', 'cancelled') AND NEW.expires_at IS NULL
       AND jsonb_typeof(NEW.input -> 'expires_after') = 'number' THEN
        NEW.expires_at := coalesce(NEW.finished_at, now()) + make_interval(secs => (NEW.input ->> 'expires_after')::double precision);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER generations_expiry BEFORE UPDATE ON generations
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION tora_generation_set_expiry();
