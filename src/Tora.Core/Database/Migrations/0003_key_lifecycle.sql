-- Key lifecycle (issue 17): a name, an expiry, when a key was last used, and which key replaced it (rotation).
ALTER TABLE api_keys ADD COLUMN name text;
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
ALTER TABLE api_keys ADD COLUMN replaced_by uuid REFERENCES api_keys(id);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at);

-- Every API instance caches key lookups; a change to whether or how a key authenticates is announced on channel
-- tora_api_keys with the key's hash (hex), so each instance drops its cached answer at once. last_used_at changes
-- announce nothing.
CREATE FUNCTION tora_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tora_api_keys', upper(encode(OLD.key_hash, 'hex')));
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_changed AFTER UPDATE ON api_keys FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.is_admin IS DISTINCT FROM NEW.is_admin OR OLD.tenant IS DISTINCT FROM NEW.tenant)
    EXECUTE FUNCTION tora_api_key_changed();
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION tora_api_key_changed();
