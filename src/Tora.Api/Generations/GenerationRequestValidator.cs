using System.Security.Cryptography;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Core.Generations;

namespace Tora.Api.Generations;

/// <summary>
/// Checks a create request against the model's limits and resolves every default (the seed included), so the
/// stored input is exactly what the worker runs. Each error points at its field with a JSON pointer, down to
/// the trajectory point.
/// </summary>
public static class GenerationRequestValidator
{
    /// <summary>Longest prompt accepted.</summary>
    public const int MaxPromptLength = 2000;
    /// <summary>Most trajectories per request.</summary>
    public const int MaxTrajectories = 8;
    /// <summary>Most points per trajectory.</summary>
    public const int MaxPoints = 1000;
    /// <summary>Largest seed: 2^53 keeps it exact in every JSON client.</summary>
    public const long MaxSeed = 1L << 53;

    /// <summary>Coordinate spaces of trajectory points.</summary>
    public static readonly IReadOnlyList<string> Spaces = ["normalized", "canvas256", "pixels"];

    /// <summary>Validates and resolves; exactly one of the results is non-null.</summary>
    public static (GenerationInput? Input, ModelDefinition? Model, List<FieldError> Errors) Resolve(
        CreateGenerationRequest r, ModelCatalogOptions catalog, bool hasImage)
    {
        var errors = new List<FieldError>();
        void Error(string pointer, string code, string detail) => errors.Add(new FieldError(pointer, code, detail));

        var model = r.Model is null ? catalog.Effective[0] : catalog.Find(r.Model);
        if (model is null)
        {
            Error("/model", "unknown_model", $"model '{r.Model}' is not offered; offered: {string.Join(", ", catalog.Effective.Select(m => m.Name))}");
            return (null, null, errors);
        }

        if (string.IsNullOrWhiteSpace(r.Prompt)) Error("/prompt", "required", "prompt is required and must not be blank");
        else if (r.Prompt.Length > MaxPromptLength) Error("/prompt", "too_long", $"prompt is longer than {MaxPromptLength} characters");
        if (r.NegativePrompt is { Length: > MaxPromptLength }) Error("/negative_prompt", "too_long", $"negative_prompt is longer than {MaxPromptLength} characters");

        var numFrames = r.NumFrames ?? model.NumFrames;
        if (!model.FrameChoices.Contains(numFrames))
            Error("/num_frames", "not_allowed", $"num_frames {numFrames} is not offered by {model.Name}; allowed: {string.Join(", ", model.FrameChoices)}");

        var width = r.Width ?? model.Width;
        var height = r.Height ?? model.Height;
        if (!model.SizeChoices.Contains((width, height)))
        {
            var allowed = string.Join(", ", model.SizeChoices.Select(s => $"{s.Width}x{s.Height}"));
            var pointer = r.Width is not null && !model.SizeChoices.Any(s => s.Width == width) ? "/width" : "/height";
            Error(pointer, "not_allowed", $"size {width}x{height} is not offered by {model.Name}; allowed: {allowed}");
        }

        var steps = r.Steps ?? model.Steps;
        if (steps < 1 || steps > model.MaxSteps) Error("/steps", "out_of_range", $"steps must be between 1 and {model.MaxSteps}");
        var guidance = r.GuidanceScale ?? 6.0;
        if (!double.IsFinite(guidance) || guidance < 0 || guidance > 30) Error("/guidance_scale", "out_of_range", "guidance_scale must be between 0 and 30");
        if (r.Seed is < 0 or > MaxSeed) Error("/seed", "out_of_range", $"seed must be between 0 and {MaxSeed}");
        var fps = r.Fps ?? 8;
        if (fps < 1 || fps > 60) Error("/fps", "out_of_range", "fps must be between 1 and 60");

        if (hasImage && !model.AcceptsFirstFrame)
            Error("/image", "not_supported", $"model {model.Name} is text-to-video and takes no first frame");

        var trajectories = new List<TrajectorySpec>();
        if (r.Trajectories is { } list)
        {
            if (list.Count > MaxTrajectories) Error("/trajectories", "too_many", $"at most {MaxTrajectories} trajectories are allowed");
            for (var t = 0; t < Math.Min(list.Count, MaxTrajectories); t++)
            {
                var spec = ValidateTrajectory(list[t], $"/trajectories/{t}", width, height, numFrames, errors);
                if (spec is not null) trajectories.Add(spec);
            }
        }

        if (r.Metadata is { } meta)
        {
            if (meta.Count > 16) Error("/metadata", "too_many", "metadata holds at most 16 entries");
            foreach (var (k, v) in meta)
            {
                var p = "/metadata/" + k.Replace("~", "~0").Replace("/", "~1");
                if (k.Length is 0 or > 64) Error(p, "invalid_key", "metadata keys are 1 to 64 characters");
                if (v is null) Error(p, "invalid_type", "metadata values must be strings");
                else if (v.Length > 512) Error(p, "too_long", "metadata values are at most 512 characters");
            }
        }

        if (errors.Count > 0) return (null, model, errors);
        return (new GenerationInput
        {
            Model = model.Name,
            Prompt = r.Prompt!.Trim(),
            NegativePrompt = r.NegativePrompt ?? "",
            Trajectories = trajectories,
            NumFrames = numFrames,
            Width = width,
            Height = height,
            Steps = steps,
            GuidanceScale = guidance,
            DynamicCfg = r.DynamicCfg ?? true,
            Seed = r.Seed ?? RandomNumberGenerator.GetInt32(int.MaxValue),
            Fps = fps,
            OverlayTrajectory = r.OverlayTrajectory ?? false,
            HasFirstFrame = hasImage,
            Metadata = r.Metadata?.ToDictionary(e => e.Key, e => e.Value!),
        }, model, errors);
    }

    private static TrajectorySpec? ValidateTrajectory(TrajectoryRequest? t, string at, int width, int height, int numFrames, List<FieldError> errors)
    {
        void Error(string pointer, string code, string detail) => errors.Add(new FieldError(pointer, code, detail));
        if (t is null) { Error(at, "required", "a trajectory must be an object with points"); return null; }
        var space = t.Space ?? "normalized";
        if (!Spaces.Contains(space)) { Error(at + "/space", "not_allowed", $"space must be one of {string.Join(", ", Spaces)}"); return null; }
        var (maxX, maxY) = space switch { "normalized" => (1.0, 1.0), "canvas256" => (256.0, 256.0), _ => (width, (double)height) };
        if (t.Points is null) { Error(at + "/points", "required", "points is required"); return null; }
        if (t.Points.Count < 2) { Error(at + "/points", "too_few", "a trajectory needs at least 2 points"); return null; }
        if (t.Points.Count > MaxPoints) { Error(at + "/points", "too_many", $"a trajectory has at most {MaxPoints} points"); return null; }
        var before = errors.Count;
        var points = new double[t.Points.Count][];
        for (var i = 0; i < t.Points.Count; i++)
        {
            var p = t.Points[i];
            var pp = $"{at}/points/{i}";
            if (p is null || p.Length != 2) { Error(pp, "invalid_point", "a point is an array [x, y] of two numbers"); continue; }
            if (!double.IsFinite(p[0]) || p[0] < 0 || p[0] > maxX)
                Error(pp + "/0", "out_of_range", $"x = {p[0]} is outside 0..{maxX} of space '{space}'");
            if (!double.IsFinite(p[1]) || p[1] < 0 || p[1] > maxY)
                Error(pp + "/1", "out_of_range", $"y = {p[1]} is outside 0..{maxY} of space '{space}'");
            points[i] = [p[0], p[1]];
        }
        int[]? frames = null;
        if (t.Frames is { } f)
        {
            if (f.Count != t.Points.Count)
                Error(at + "/frames", "length_mismatch", $"frames has {f.Count} entries but points has {t.Points.Count}");
            else
            {
                for (var i = 0; i < f.Count; i++)
                {
                    if (f[i] < 0 || f[i] >= numFrames) Error($"{at}/frames/{i}", "out_of_range", $"frame {f[i]} is outside 0..{numFrames - 1}");
                    else if (i > 0 && f[i] <= f[i - 1]) Error($"{at}/frames/{i}", "not_increasing", "frames must be strictly increasing");
                }
                frames = [.. f];
            }
        }
        return errors.Count == before ? new TrajectorySpec(points, space, frames) : null;
    }
}
