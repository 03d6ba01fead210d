using System.Text.Json.Serialization;

namespace Tora.Motion.Trajectories;

/// <summary>
/// How strongly and during which denoising steps the motion input guides a generation (README, "Motion controls"):
/// the Trajectory Extractor's features are multiplied by <see cref="Strength"/> before the Motion-guidance Fusers
/// use them (0 still runs the fusers, on zero features), and at step <c>i</c> of <c>n</c> guidance applies only when
/// <c>Start ≤ i / n ≤ End</c>; outside that window the fusers are skipped, as with no motion input at all. The
/// defaults (1, 0, 1) are the original's behaviour.
/// </summary>
/// <param name="Strength">Multiplier of the extractor features, 0 … <see cref="MaxStrength"/>.</param>
/// <param name="Start">First guided fraction of the steps, 0 … <paramref name="End"/>.</param>
/// <param name="End">Last guided fraction of the steps, <paramref name="Start"/> … 1.</param>
public sealed record MotionControls(
    [property: JsonPropertyName("strength")] double Strength = 1,
    [property: JsonPropertyName("start")] double Start = 0,
    [property: JsonPropertyName("end")] double End = 1)
{
    /// <summary>The largest accepted strength.</summary>
    public const double MaxStrength = 10;

    /// <summary>Strength 1 over every step: the original's motion guidance.</summary>
    public static MotionControls Default { get; } = new();

    /// <summary>True when every step is inside the window.</summary>
    [JsonIgnore] public bool CoversEveryStep => Start <= 0 && End >= 1;

    /// <summary>
    /// Whether step <paramref name="step"/> (0-based) of <paramref name="steps"/> is guided: <c>Start ≤ step / steps ≤ End</c>,
    /// the fraction computed in double precision.
    /// </summary>
    public bool GuidesStep(int step, int steps)
    {
        double fraction = (double)step / steps;
        return Start <= fraction && fraction <= End;
    }

    /// <summary>The problems of these values, each with its field name (<c>strength</c>, <c>start</c>, <c>end</c>); empty when valid.</summary>
    public IReadOnlyList<(string Field, string Message)> Validate()
    {
        var errors = new List<(string, string)>();
        if (!double.IsFinite(Strength) || Strength < 0 || Strength > MaxStrength)
            errors.Add(("strength", $"must be a number from 0 to {MaxStrength}"));
        bool startOk = double.IsFinite(Start) && Start is >= 0 and <= 1, endOk = double.IsFinite(End) && End is >= 0 and <= 1;
        if (!startOk) errors.Add(("start", "must be a number from 0 to 1"));
        if (!endOk) errors.Add(("end", "must be a number from 0 to 1"));
        if (startOk && endOk && Start > End) errors.Add(("end", $"must not be less than start ({Start})"));
        return errors;
    }
}
