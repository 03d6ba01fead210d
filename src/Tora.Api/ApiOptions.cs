namespace Tora.Api;

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
