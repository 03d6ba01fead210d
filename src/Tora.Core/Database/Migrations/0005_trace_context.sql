-- One trace per generation (issue 17): the W3C traceparent of the request that created it, continued by the
-- worker and by each webhook delivery. NULL when the API was not tracing.
ALTER TABLE generations ADD COLUMN traceparent text;
