namespace Tora.Core;

/// <summary>Where blobs (videos, thumbnails, first frames) live. Bound from <c>Tora:Storage</c>.</summary>
public sealed class StorageOptions
{
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
    /// <summary>Default denoising steps (PRODUCT.md §4: 50).</summary>
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
    /// <summary>Default <c>expires_after</c> when a request gives none (7 days).</summary>
    public TimeSpan Default { get; set; } = TimeSpan.FromDays(7);
    /// <summary>Shortest <c>expires_after</c> a request may ask for.</summary>
    public TimeSpan Min { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>Longest <c>expires_after</c> a request may ask for (30 days).</summary>
    public TimeSpan Max { get; set; } = TimeSpan.FromDays(30);
    /// <summary>Cron expression of the retention job (every minute).</summary>
    public string Schedule { get; set; } = "* * * * *";
}
