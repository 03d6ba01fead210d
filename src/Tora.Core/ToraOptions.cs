namespace Tora.Core;

/// <summary>Where blobs (videos, thumbnails, first frames) live. Bound from <c>Tora:Storage</c>.</summary>
public sealed class StorageOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Storage";

    /// <summary>Which blob store: <c>filesystem</c> (under <see cref="Root"/>) or <c>s3</c> (<c>Tora:Storage:S3</c>).</summary>
    public string Kind { get; set; } = "filesystem";

    /// <summary>Root folder of the filesystem blob store (created when missing).</summary>
    public string Root { get; set; } = ".data/blobs";
}

/// <summary>One model the service offers; its name selects the worker queue. Bound from <c>Tora:Models</c>.</summary>
public sealed class ModelDefinition
{
    /// <summary>The model name clients send (<c>model</c>) and workers announce.</summary>
    public string Name { get; set; } = "tora-t2v";
    /// <summary>A one-line description for <c>GET /v1/models</c>.</summary>
    public string Description { get; set; } = "Tora on CogVideoX-5B, text (and trajectory) to video";
    /// <summary>Default frame count.</summary>
    public int NumFrames { get; set; } = 49;
    /// <summary>Frame counts accepted (empty = only the default).</summary>
    public List<int> AllowedNumFrames { get; set; } = [];
    /// <summary>Default width in pixels.</summary>
    public int Width { get; set; } = 720;
    /// <summary>Default height in pixels.</summary>
    public int Height { get; set; } = 480;
    /// <summary>Sizes accepted, as <c>WxH</c> (empty = only the default).</summary>
    public List<string> AllowedSizes { get; set; } = [];
    /// <summary>Default denoising steps (docs/model.md §1.5: 50).</summary>
    public int Steps { get; set; } = 50;
    /// <summary>Largest step count accepted.</summary>
    public int MaxSteps { get; set; } = 100;
    /// <summary>Whether the model takes a first-frame image (image-to-video).</summary>
    public bool AcceptsFirstFrame { get; set; }

    /// <summary>The Hangfire queue of this model's workers.</summary>
    public string Queue => QueueFor(Name);

    /// <summary>The Hangfire queue name for a model name (Hangfire allows lowercase letters, digits, <c>_</c>, <c>-</c>).</summary>
    public static string QueueFor(string model) => "gen-" + model;

    /// <summary>Frame counts accepted.</summary>
    public IReadOnlyList<int> FrameChoices => AllowedNumFrames.Count > 0 ? AllowedNumFrames : [NumFrames];

    /// <summary>Sizes accepted as (width, height).</summary>
    public IReadOnlyList<(int Width, int Height)> SizeChoices => AllowedSizes.Count > 0
        ? AllowedSizes.Select(ParseSize).ToArray()
        : [(Width, Height)];

    private static (int, int) ParseSize(string s)
    {
        var parts = s.Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var w) || !int.TryParse(parts[1], out var h))
            throw new InvalidOperationException($"Tora:Models:{s} is not a size like 720x480");
        return (w, h);
    }
}

/// <summary>The models section: <c>Tora:Models</c>. When empty, one default <c>tora-t2v</c> model is offered.</summary>
public sealed class ModelCatalogOptions
{
    /// <summary>The configuration section whose <c>Models</c> list this binds.</summary>
    public const string Section = "Tora";

    /// <summary>The configured models.</summary>
    public List<ModelDefinition> Models { get; set; } = [];

    /// <summary>The models in effect.</summary>
    public IReadOnlyList<ModelDefinition> Effective => Models.Count > 0 ? Models : [new ModelDefinition()];

    /// <summary>Finds a model by name.</summary>
    public ModelDefinition? Find(string name) => Effective.FirstOrDefault(m => m.Name == name);
}

/// <summary>How long results are kept. Bound from <c>Tora:Retention</c>.</summary>
public sealed class RetentionOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Retention";

    /// <summary>Default <c>expires_after</c> when a request gives none (7 days).</summary>
    public TimeSpan Default { get; set; } = TimeSpan.FromDays(7);
    /// <summary>Shortest <c>expires_after</c> a request may ask for.</summary>
    public TimeSpan Min { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>Longest <c>expires_after</c> a request may ask for (30 days).</summary>
    public TimeSpan Max { get; set; } = TimeSpan.FromDays(30);
    /// <summary>Cron expression of the retention job (every minute).</summary>
    public string Schedule { get; set; } = "* * * * *";
}

/// <summary>Per-tenant limits. Bound from <c>Tora:Limits</c>; <see cref="Tenants"/> overrides them per tenant (plans).</summary>
public sealed class LimitOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Limits";

    /// <summary>Requests per minute per tenant to the expensive endpoints (create, trajectory preview, webhook test); 0 = unlimited.</summary>
    public int RequestsPerMinute { get; set; } = 120;
    /// <summary>Most generations a tenant may have queued; more are refused with 429; 0 = unlimited.</summary>
    public int MaxQueuedPerTenant { get; set; } = 1000;
    /// <summary>
    /// Most generations of one tenant handed to workers at once (running, or waiting in a model's job queue); the
    /// rest wait in the outbox, so one tenant cannot fill every GPU; 0 = unlimited.
    /// </summary>
    public int MaxRunningPerTenant { get; set; }
    /// <summary>Overrides by tenant name.</summary>
    public Dictionary<string, TenantLimitOverride> Tenants { get; set; } = [];

    /// <summary>The requests per minute of a tenant.</summary>
    public int RequestsPerMinuteFor(string tenant) => Tenants.TryGetValue(tenant, out var o) && o.RequestsPerMinute is { } v ? v : RequestsPerMinute;

    /// <summary>Whether any running cap is configured (default or per tenant).</summary>
    public bool HasRunningCaps => MaxRunningPerTenant > 0 || Tenants.Values.Any(t => t.MaxRunning > 0);

    /// <summary>The running cap of a tenant (0 = unlimited).</summary>
    public int MaxRunningFor(string tenant) => Tenants.TryGetValue(tenant, out var o) && o.MaxRunning is { } v ? v : MaxRunningPerTenant;

    /// <summary>The queued cap of a tenant.</summary>
    public int MaxQueuedFor(string tenant) => Tenants.TryGetValue(tenant, out var o) && o.MaxQueued is { } v ? v : MaxQueuedPerTenant;

    /// <summary>The scheduling weight of a tenant (1 unless its plan sets one).</summary>
    public double WeightFor(string tenant) => Tenants.TryGetValue(tenant, out var o) && o.Weight is { } w and > 0 ? w : 1;
}

/// <summary>One tenant's own limits (unset values fall back to the defaults).</summary>
public sealed class TenantLimitOverride
{
    /// <summary>Requests per minute.</summary>
    public int? RequestsPerMinute { get; set; }
    /// <summary>Queued cap.</summary>
    public int? MaxQueued { get; set; }
    /// <summary>Running cap (see <see cref="LimitOptions.MaxRunningPerTenant"/>).</summary>
    public int? MaxRunning { get; set; }
    /// <summary>
    /// Share of each model's workers while several tenants have queued work (default 1): a tenant of weight 2 has
    /// two generations started for every one of a tenant of weight 1.
    /// </summary>
    public double? Weight { get; set; }
}
