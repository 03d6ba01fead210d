namespace Tora.Core.Tenancy;

/// <summary>API key lifecycle settings. Bound from <c>Tora:Keys</c>.</summary>
public sealed class KeyOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Keys";

    /// <summary>How long a key replaced by <c>POST /v1/keys/rotate</c> keeps working (24 h).</summary>
    public TimeSpan RotationGracePeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The longest lifetime <c>expires_in_days</c> may ask for (10 years).</summary>
    public int MaxExpiresInDays { get; set; } = 3650;
}
