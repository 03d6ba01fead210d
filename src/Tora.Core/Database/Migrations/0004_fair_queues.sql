-- Fair scheduling across tenants (issue 17). Accepted generations stay in the outbox until a worker of their model
-- can take one more; the dispatcher then releases the tenant whose turn it is (stride scheduling: each tenant of a
-- queue has a pass that grows by 1/weight per release; the lowest pass goes next, FIFO within a tenant).

-- The outbox by queue and tenant: its first row per tenant is that tenant's next generation.
CREATE INDEX generations_fair ON generations (queue, tenant, id) WHERE dispatched_at IS NULL AND status = 'queued';
-- Released to the workers and not yet claimed by one (a retry waiting for its delay has attempts > 0).
CREATE INDEX generations_released ON generations (queue, dispatched_at, id) WHERE dispatched_at IS NOT NULL AND status = 'queued' AND attempts = 0;
-- Running per queue: whether a worker is idle (then a release it has not claimed for a while is stuck, see FairScheduler).
CREATE INDEX generations_running ON generations (queue) WHERE status = 'running';

-- The virtual time of a queue: the pass of the last release. A tenant that was idle starts again from here, so
-- idle time earns no burst.
CREATE TABLE fair_queues (
    queue  text PRIMARY KEY,
    clock  double precision NOT NULL
);

-- Each tenant's pass on a queue: the virtual time of its next release.
CREATE TABLE fair_shares (
    queue   text NOT NULL,
    tenant  text NOT NULL,
    pass    double precision NOT NULL,
    PRIMARY KEY (queue, tenant)
);
