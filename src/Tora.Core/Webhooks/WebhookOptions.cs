namespace Tora.Core.Webhooks;

/// <summary>Webhook delivery settings. Bound from <c>Tora:Webhooks</c>.</summary>
public sealed class WebhookOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Webhooks";

    /// <summary>
    /// Delays before each retry after the first attempt. The default spreads 10 attempts over about three days
    /// (Svix/Stripe-like: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h; docs/architecture.md §6).
    /// </summary>
    public List<TimeSpan> RetryDelays { get; set; } = [];

    /// <summary>Per-attempt timeout (the receiver must answer 2xx within it).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Attempts in flight to one endpoint (URL) per API process; more wait their turn, so a hanging receiver cannot
    /// hold every delivery worker (<c>Tora:Api:JobWorkers</c>) and delay other tenants' deliveries.
    /// </summary>
    public int MaxInFlightPerEndpoint { get; set; } = 8;

    /// <summary>How long the previous secret keeps signing after a rotation.</summary>
    public TimeSpan PreviousSecretLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Allow targets on loopback addresses (off in production: SSRF defence; tests turn it on).</summary>
    public bool AllowLoopback { get; set; }

    /// <summary>Allow targets in private, link-local and other non-public ranges.</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>The retry schedule in effect.</summary>
    public IReadOnlyList<TimeSpan> EffectiveRetryDelays => RetryDelays.Count > 0 ? RetryDelays : DefaultRetryDelays;

    /// <summary>The default retry schedule (≈ 3.1 days in all).</summary>
    public static IReadOnlyList<TimeSpan> DefaultRetryDelays { get; } =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5),
        TimeSpan.FromHours(10), TimeSpan.FromHours(14), TimeSpan.FromHours(20), TimeSpan.FromHours(24),
    ];
}
