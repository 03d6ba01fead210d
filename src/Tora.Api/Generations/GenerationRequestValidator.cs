using System.Security.Cryptography;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Core.Generations;
using Tora.Core.Webhooks;
using Tora.Motion.Trajectories;

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
    /// <summary>Largest seed: 2^53 keeps it exact in every JSON client.</summary>
    public const long MaxSeed = 1L << 53;
    /// <summary>Longest per-request deadline (a day).</summary>
    public const int MaxCancelAfter = 86_400;

    /// <summary>Validates and resolves; exactly one of the results is non-null.</summary>
    public static (GenerationInput? Input, ModelDefinition? Model, List<FieldError> Errors) Resolve(
        CreateGenerationRequest r, ModelCatalogOptions catalog, bool hasImage, WebhookTargetPolicy? webhooks = null, RetentionOptions? retention = null)
    {
        var errors = new List<FieldError>();
        void Error(string pointer, string code, string detail) => errors.Add(new FieldError(pointer, code, detail));

        var model = FindModel(r.Model, catalog, errors);
        if (model is null) return (null, null, errors);

        if (string.IsNullOrWhiteSpace(r.Prompt)) Error("/prompt", "required", "prompt is required and must not be blank");
        else if (r.Prompt.Length > MaxPromptLength) Error("/prompt", "too_long", $"prompt is longer than {MaxPromptLength} characters");
        if (r.NegativePrompt is { Length: > MaxPromptLength }) Error("/negative_prompt", "too_long", $"negative_prompt is longer than {MaxPromptLength} characters");

        var video = ResolveVideo(model, r.NumFrames, r.Width, r.Height, errors);
        var (numFrames, width, height) = (video.Frames, video.Width, video.Height);

        var steps = r.Steps ?? model.Steps;
        if (steps < 1 || steps > model.MaxSteps) Error("/steps", "out_of_range", $"steps must be between 1 and {model.MaxSteps}");
        var guidance = r.GuidanceScale ?? 6.0;
        if (!double.IsFinite(guidance) || guidance < 0 || guidance > 30) Error("/guidance_scale", "out_of_range", "guidance_scale must be between 0 and 30");
        if (r.Seed is < 0 or > MaxSeed) Error("/seed", "out_of_range", $"seed must be between 0 and {MaxSeed}");
        var fps = ResolveFps(r.Fps, errors);

        if (hasImage && !model.AcceptsFirstFrame)
            Error("/image", "not_supported", $"model {model.Name} is text-to-video and takes no first frame");

        var trajectories = numFrames > 0 && width > 0 && height > 0 ? ValidateTrajectories(r.Trajectories, video, errors) : [];

        var motion = MotionControls.Default;
        if (r.Motion is { } m)
        {
            motion = new MotionControls(m.Strength ?? 1, m.Start ?? 0, m.End ?? 1);
            foreach (var (field, message) in motion.Validate()) Error($"/motion/{field}", "out_of_range", $"motion.{field} {message}");
        }

        if (r.Metadata is { } meta)
        {
            if (meta.Count > 16) Error("/metadata", "too_many", "metadata holds at most 16 entries");
            foreach (var (k, v) in meta)
            {
                var p = "/metadata/" + Tora.Motion.JsonPointer.Escape(k);
                if (k.Length is 0 or > 64) Error(p, "invalid_key", "metadata keys are 1 to 64 characters");
                if (v is null) Error(p, "invalid_type", "metadata values must be strings");
                else if (v.Length > 512) Error(p, "too_long", "metadata values are at most 512 characters");
            }
        }

        WebhookSpec? webhook = null;
        if (r.Webhook is { } hook)
        {
            if (hook.Url is null) Error("/webhook/url", "required", "webhook.url is required");
            else if ((webhooks ?? new WebhookTargetPolicy(new WebhookOptions())).CheckUrl(hook.Url) is { } why) Error("/webhook/url", "webhook_target_refused", why);
            var events = hook.Events ?? [.. WebhookSigner.EventTypes];
            for (var i = 0; i < events.Count; i++)
                if (events[i] is not { } e || !WebhookSigner.EventTypes.Contains(e))
                    Error($"/webhook/events/{i}", "unknown_event", $"events must be among {string.Join(", ", WebhookSigner.EventTypes)}");
            if (hook.Url is not null) webhook = new WebhookSpec(hook.Url, events.Distinct().ToArray()!);
        }
        if (r.CancelAfter is < 1 or > MaxCancelAfter) Error("/cancel_after", "out_of_range", $"cancel_after must be between 1 and {MaxCancelAfter} seconds");

        retention ??= new RetentionOptions();
        var expiresAfter = r.ExpiresAfter ?? (int)retention.Default.TotalSeconds;
        if (expiresAfter < retention.Min.TotalSeconds || expiresAfter > retention.Max.TotalSeconds)
            Error("/expires_after", "out_of_range", $"expires_after must be between {retention.Min.TotalSeconds:0} and {retention.Max.TotalSeconds:0} seconds");

        if (errors.Count > 0) return (null, model, errors);
        return (new GenerationInput
        {
            Model = model.Name,
            Prompt = r.Prompt!.Trim(),
            NegativePrompt = r.NegativePrompt ?? "",
            Trajectories = trajectories.Select(TrajectorySpec.From).ToArray(),
            NumFrames = numFrames,
            Width = width,
            Height = height,
            Steps = steps,
            GuidanceScale = guidance,
            DynamicCfg = r.DynamicCfg ?? true,
            Seed = r.Seed ?? RandomNumberGenerator.GetInt32(int.MaxValue),
            Fps = fps,
            OverlayTrajectory = r.OverlayTrajectory ?? false,
            Motion = motion,
            HasFirstFrame = hasImage,
            Metadata = r.Metadata?.ToDictionary(e => e.Key, e => e.Value!),
            Webhook = webhook,
            CancelAfter = r.CancelAfter,
            ExpiresAfter = expiresAfter,
        }, model, errors);
    }

    /// <summary>The requested model (the first one when none is named), or null with an <c>unknown_model</c> error.</summary>
    public static ModelDefinition? FindModel(string? name, ModelCatalogOptions catalog, List<FieldError> errors)
    {
        var model = name is null ? catalog.Effective[0] : catalog.Find(name);
        if (model is null)
            errors.Add(new FieldError("/model", "unknown_model", $"model '{name}' is not offered; offered: {string.Join(", ", catalog.Effective.Select(m => m.Name))}"));
        return model;
    }

    /// <summary>The video size of a create or preview request: the model's defaults, checked against what it offers.</summary>
    public static VideoGeometry ResolveVideo(ModelDefinition model, int? numFrames, int? width, int? height, List<FieldError> errors)
    {
        var frames = numFrames ?? model.NumFrames;
        if (!model.FrameChoices.Contains(frames))
            errors.Add(new FieldError("/num_frames", "not_allowed", $"num_frames {frames} is not offered by {model.Name}; allowed: {string.Join(", ", model.FrameChoices)}"));
        var (w, h) = (width ?? model.Width, height ?? model.Height);
        if (!model.SizeChoices.Contains((w, h)))
        {
            var allowed = string.Join(", ", model.SizeChoices.Select(s => $"{s.Width}x{s.Height}"));
            var pointer = width is not null && !model.SizeChoices.Any(s => s.Width == w) ? "/width" : "/height";
            errors.Add(new FieldError(pointer, "not_allowed", $"size {w}x{h} is not offered by {model.Name}; allowed: {allowed}"));
        }
        return new VideoGeometry(frames, h, w);
    }

    /// <summary>Frames per second of a video or preview (default 8, 1 to 60).</summary>
    public static int ResolveFps(int? fps, List<FieldError> errors)
    {
        var value = fps ?? 8;
        if (value is < 1 or > 60) errors.Add(new FieldError("/fps", "out_of_range", "fps must be between 1 and 60"));
        return value;
    }

    /// <summary>
    /// The trajectories through the one parser and validator (<see cref="TrajectoryValidator.Resolve"/>) for the
    /// requested video size; errors point down to the point.
    /// </summary>
    public static IReadOnlyList<Trajectory> ValidateTrajectories(IReadOnlyList<TrajectorySpec?>? list, VideoGeometry geometry, List<FieldError> errors)
    {
        var r = TrajectoryValidator.Resolve(list, geometry);
        foreach (var e in r.Errors) errors.Add(new FieldError(e.Pointer, e.Code, e.Message));
        return r.Trajectories;
    }
}
