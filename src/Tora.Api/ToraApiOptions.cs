namespace Tora.Api;

// Every setting of an API instance, one typed options class per configuration section (docs/architecture.md §1);
// the instance binds and validates them in ToraApiHosting.

/// <summary>Settings of an API instance. Bound from <c>Tora:Api</c>.</summary>
public sealed class ApiOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Api";

    /// <summary>Whether this instance runs the webhook delivery and retention jobs (false: it serves requests only, another instance runs them).</summary>
    public bool RunJobServer { get; set; } = true;

    /// <summary>Webhook and retention jobs this instance runs at once; deliveries mostly wait on receivers, so more than cores.</summary>
    public int JobWorkers { get; set; } = 20;

    /// <summary>
    /// After how long a webhook or retention job of a killed API instance is fetched again by a live one (the
    /// sliding timeout keeps a running job invisible however long it takes, so a short value is safe for these
    /// light jobs).
    /// </summary>
    public TimeSpan JobInvisibilityTimeout { get; set; } = Tora.Core.Jobs.HangfireSetup.DefaultInvisibilityTimeout;
}

/// <summary>Server-Sent Events settings. Bound from <c>Tora:Events</c>.</summary>
public sealed class EventStreamOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Events";

    /// <summary>How often an idle stream sends a comment line (keeps proxies from closing it) and the queue position.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Idempotency-Key settings. Bound from <c>Tora:Idempotency</c>.</summary>
public sealed class IdempotencyOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Idempotency";

    /// <summary>How long a key is remembered (the draft asks servers to publish this; here 24 h by default).</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>Benchmark-only switches. Bound from <c>Tora:Bench</c>.</summary>
public sealed class BenchOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Bench";

    /// <summary>Map <c>POST /bench/insert</c> (bench/load's reference endpoint); off in production.</summary>
    public bool InsertEndpoint { get; set; }
}
