-- Payloads written once (issue 19): the trigger keeps appending one event per status change and step, in the same
-- transaction (exactly-once events, docs/architecture.md §6), but it no longer renders what clients read. It records
-- which change happened and the row's state at that moment; the API renders the SSE data and the webhook body from
-- that with the same C# mapper as the resource (Tora.Core.Generations.GenerationPayloads), so the ETA, the
-- percentage and the URLs are computed in one place.

-- generation_events.data: the row's state when the event happened; created_at: that moment (the ETA's "now").
UPDATE generation_events e SET data = jsonb_build_object(
        'status', e.data -> 'status', 'phase', e.data -> 'phase', 'step', e.data -> 'step',
        'total_steps', e.data -> 'total_steps', 'attempts', coalesce(e.data -> 'attempts', to_jsonb(g.attempts)),
        'error_code', e.data #> '{error,code}', 'error_message', e.data #> '{error,message}',
        'started_at', to_jsonb(g.started_at))
    FROM generations g
    WHERE g.id = e.generation_id AND e.data ? 'id';

-- webhook_events: the body is rendered when sent, from the event (type, created_at = its timestamp) and the
-- generation; events written before keep their timestamp.
UPDATE webhook_events SET created_at = (payload ->> 'timestamp')::timestamptz WHERE payload ? 'timestamp';
ALTER TABLE webhook_events DROP COLUMN payload;

CREATE OR REPLACE FUNCTION tora_generation_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev_type text;
    ev_seq bigint;
    hook jsonb;
BEGIN
    IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status THEN
        ev_type := 'status';
    ELSIF OLD.step IS DISTINCT FROM NEW.step OR OLD.phase IS DISTINCT FROM NEW.phase THEN
        ev_type := 'progress';
    ELSE
        RETURN NEW;
    END IF;
    INSERT INTO generation_events (generation_id, type, data, created_at)
    VALUES (NEW.id, ev_type, jsonb_build_object('status', NEW.status, 'phase', NEW.phase, 'step', NEW.step,
            'total_steps', NEW.total_steps, 'attempts', NEW.attempts, 'error_code', NEW.error_code,
            'error_message', NEW.error_message, 'started_at', NEW.started_at), clock_timestamp())
    RETURNING seq INTO ev_seq;
    PERFORM pg_notify('tora_generation', NEW.id::text || ' ' || ev_seq::text);

    hook := NEW.input -> 'webhook';
    IF ev_type = 'status' AND hook IS NOT NULL AND jsonb_typeof(hook) = 'object'
       AND NEW.status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')
       AND (hook -> 'events') ? ('generation.' || NEW.status) THEN
        INSERT INTO webhook_events (id, generation_id, tenant, type, url, created_at)
        VALUES (gen_random_uuid(), NEW.id, NEW.tenant, 'generation.' || NEW.status, hook ->> 'url', clock_timestamp())
        ON CONFLICT (generation_id, type) DO NOTHING;
    END IF;
    RETURN NEW;
END;
$$;
