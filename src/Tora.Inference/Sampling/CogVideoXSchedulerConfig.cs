using System.Text.Json;

namespace Tora.Inference.Sampling;

/// <summary>
/// The keys of a diffusers <c>scheduler_config.json</c> that the CogVideoX DPM scheduler uses (docs/model.md
/// §5.1). Values missing from a file take diffusers' <c>CogVideoXDPMScheduler</c> defaults.
/// </summary>
public sealed record CogVideoXSchedulerConfig
{
    /// <summary>Training timesteps (1000).</summary>
    public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary>First beta.</summary>
    public double BetaStart { get; init; } = 0.00085;

    /// <summary>Last beta.</summary>
    public double BetaEnd { get; init; } = 0.012;

    /// <summary><c>scaled_linear</c> (betas linear in sqrt, float64) or <c>linear</c>.</summary>
    public string BetaSchedule { get; init; } = "scaled_linear";

    /// <summary>Whether the alpha product before timestep 0 is 1 (else the first alpha product).</summary>
    public bool SetAlphaToOne { get; init; } = true;

    /// <summary>Added to <c>leading</c> timesteps.</summary>
    public int StepsOffset { get; init; }

    /// <summary><c>v_prediction</c> (CogVideoX), <c>epsilon</c> or <c>sample</c>.</summary>
    public string PredictionType { get; init; } = "epsilon";

    /// <summary><c>trailing</c> (CogVideoX), <c>leading</c> or <c>linspace</c>.</summary>
    public string TimestepSpacing { get; init; } = "leading";

    /// <summary>Rescale the alpha products to zero terminal SNR.</summary>
    public bool RescaleBetasZeroSnr { get; init; }

    /// <summary>SD3-style SNR shift <c>abar / (s + (1 - s) abar)</c>; 1 is the identity (5B), 3 the 2B value.</summary>
    public double SnrShiftScale { get; init; } = 3.0;

    /// <summary>The configuration of CogVideoX-5B and Tora (the tiny fixtures use the same).</summary>
    public static CogVideoXSchedulerConfig CogVideoX5B { get; } = new()
    {
        PredictionType = "v_prediction",
        TimestepSpacing = "trailing",
        RescaleBetasZeroSnr = true,
        SnrShiftScale = 1.0,
    };

    /// <summary>Reads a diffusers <c>scheduler_config.json</c>; unknown keys are ignored, unsupported values refused.</summary>
    public static CogVideoXSchedulerConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"scheduler config '{path}' does not exist", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses the JSON text of a diffusers scheduler config.</summary>
    public static CogVideoXSchedulerConfig Parse(string json, string origin = "scheduler config")
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(json);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{origin} is not valid JSON: {e.Message}");
        }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{origin} is not a JSON object");
        var c = new CogVideoXSchedulerConfig();
        try
        {
            if (root.TryGetProperty("trained_betas", out var tb) && tb.ValueKind != JsonValueKind.Null)
                throw new InvalidDataException($"{origin}: trained_betas is not supported");
            c = c with
            {
                NumTrainTimesteps = Get(root, "num_train_timesteps", c.NumTrainTimesteps, e => e.GetInt32()),
                BetaStart = Get(root, "beta_start", c.BetaStart, e => e.GetDouble()),
                BetaEnd = Get(root, "beta_end", c.BetaEnd, e => e.GetDouble()),
                BetaSchedule = Get(root, "beta_schedule", c.BetaSchedule, e => e.GetString()!),
                SetAlphaToOne = Get(root, "set_alpha_to_one", c.SetAlphaToOne, e => e.GetBoolean()),
                StepsOffset = Get(root, "steps_offset", c.StepsOffset, e => e.GetInt32()),
                PredictionType = Get(root, "prediction_type", c.PredictionType, e => e.GetString()!),
                TimestepSpacing = Get(root, "timestep_spacing", c.TimestepSpacing, e => e.GetString()!),
                RescaleBetasZeroSnr = Get(root, "rescale_betas_zero_snr", c.RescaleBetasZeroSnr, e => e.GetBoolean()),
                SnrShiftScale = Get(root, "snr_shift_scale", c.SnrShiftScale, e => e.GetDouble()),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{origin}: {e.Message}");
        }
        c.Validate(origin);
        return c;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> for values this scheduler does not implement.</summary>
    public void Validate(string origin = "scheduler config")
    {
        if (NumTrainTimesteps < 2) throw new InvalidDataException($"{origin}: num_train_timesteps must be at least 2");
        if (BetaSchedule is not ("scaled_linear" or "linear"))
            throw new InvalidDataException($"{origin}: beta_schedule '{BetaSchedule}' is not supported (scaled_linear, linear)");
        if (PredictionType is not ("v_prediction" or "epsilon" or "sample"))
            throw new InvalidDataException($"{origin}: prediction_type '{PredictionType}' is not supported (v_prediction, epsilon, sample)");
        if (TimestepSpacing is not ("trailing" or "leading" or "linspace"))
            throw new InvalidDataException($"{origin}: timestep_spacing '{TimestepSpacing}' is not supported (trailing, leading, linspace)");
        if (!(BetaStart > 0 && BetaEnd > 0 && BetaStart < 1 && BetaEnd < 1))
            throw new InvalidDataException($"{origin}: beta_start and beta_end must lie in (0, 1)");
    }

    private static T Get<T>(JsonElement root, string name, T fallback, Func<JsonElement, T> read) =>
        root.TryGetProperty(name, out var e) && e.ValueKind != JsonValueKind.Null ? read(e) : fallback;
}
