using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tora.Api.Generations;
using Tora.Api.Limits;
using Tora.Api.OpenApi;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Motion.Trajectories;
using Tora.Motion.Video;

namespace Tora.Api.Apis;

/// <summary><c>/v1/trajectories</c>: the original's presets, and a preview (no GPU) of what Tora will see.</summary>
public static class TrajectoriesApi
{
    /// <summary>Maps the routes.</summary>
    public static RouteGroupBuilder MapTrajectoriesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/trajectories").WithTags("Trajectories").RequireAuthorization();
        api.MapGet("/presets", ListPresets).WithName("ListTrajectoryPresets");
        api.MapPost("/preview", Preview).WithName("PreviewTrajectories").RequireTenantRateLimit()
            .Accepts<TrajectoryPreviewRequest>("application/json", "multipart/form-data")
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status415UnsupportedMediaType, StatusCodes.Status422UnprocessableEntity);
        return api;
    }

    /// <summary>The <c>request</c> JSON part and the <c>flow_video</c> MP4 part of a flow-video preview.</summary>
    private static async Task<(TrajectoryPreviewRequest?, byte[]?, ProblemHttpResult?)> ReadMultipartAsync(HttpRequest http, CancellationToken ct)
    {
        var (form, formProblem) = await CreateRequestReader.ReadFormAsync(http, 4, ["request", "flow_video"], "'request' and 'flow_video'", ct);
        if (form is null) return (null, null, formProblem);
        if (form.Files.GetFile("flow_video") is not { } file)
            return (null, null, ApiProblem.Validation([new FieldError("/flow_video", "required", "a multipart preview needs a 'flow_video' file part (an MP4)")]));
        var json = form["request"].FirstOrDefault() ?? "{}";
        var (request, problem) = CreateRequestReader.Parse<TrajectoryPreviewRequest>(System.Text.Encoding.UTF8.GetBytes(json));
        if (problem is not null) return (null, null, problem);
        return (request, await CreateRequestReader.ReadAllBytesAsync(file, ct), null);
    }

    /// <summary>The nine example trajectories of the original repository, on its 256×256 canvas.</summary>
    public static Ok<PresetList> ListPresets() => TypedResults.Ok(new PresetList(TrajectoryPresets.List
        .Select(p => new PresetResource(p.Name, CoordinateSpaces.Name(p.Trajectory.Space), p.Trajectory.Points.Select(q => new[] { q.X, q.Y }).ToArray()))
        .ToArray()));

    /// <summary>
    /// Validates and resamples trajectories for a video size and returns the per-frame points plus a preview MP4
    /// (the flow video Tora conditions on, or the paths drawn over the first frame or a white canvas). As
    /// multipart (a <c>request</c> JSON part and a <c>flow_video</c> MP4 part), it previews an uploaded flow video
    /// instead: as it is (<c>flow</c>), or over the first frame or a white canvas (<c>paths</c>).
    /// </summary>
    public static async Task<Results<Ok<TrajectoryPreviewResponse>, ProblemHttpResult>> Preview(
        HttpRequest http, IOptions<ModelCatalogOptions> catalog, CancellationToken ct)
    {
        TrajectoryPreviewRequest? r;
        ProblemHttpResult? problem;
        byte[]? flowUpload = null;
        if (http.HasFormContentType) (r, flowUpload, problem) = await ReadMultipartAsync(http, ct);
        else (r, problem) = await CreateRequestReader.ReadJsonBodyAsync<TrajectoryPreviewRequest>(http, ct);
        if (problem is not null) return problem;
        // The same model, size and trajectory checks as a create request (GenerationRequestValidator).
        var errors = new List<FieldError>();
        var model = GenerationRequestValidator.FindModel(r!.Model, catalog.Value, errors);
        if (model is null) return ApiProblem.Validation(errors);
        var geometry = GenerationRequestValidator.ResolveVideo(model, r.NumFrames, r.Width, r.Height, errors);
        var (frames, width, height) = (geometry.Frames, geometry.Width, geometry.Height);
        var fps = GenerationRequestValidator.ResolveFps(r.Fps, errors);
        var mode = r.Mode ?? "flow";
        if (mode is not ("flow" or "paths")) errors.Add(new FieldError("/mode", "not_allowed", "mode must be 'flow' or 'paths'"));
        if (flowUpload is null && r.Trajectories is not { Count: > 0 }) errors.Add(new FieldError("/trajectories", "required", "at least one trajectory is required"));
        if (flowUpload is not null && r.Trajectories is { Count: > 0 }) errors.Add(new FieldError("/flow_video", "not_allowed", "send either trajectories or a flow_video to preview, not both"));
        FirstFrameImage? image = null;
        if (r.Image is not null)
        {
            var (img, code, detail) = FirstFrameImage.FromDataUri(r.Image);
            if (img is null) errors.Add(new FieldError("/image", code!, detail!));
            image = img;
            if (mode != "paths") errors.Add(new FieldError("/image", "not_allowed", "an image is drawn under the paths only with mode 'paths'"));
        }
        if (errors.Count > 0) return ApiProblem.Validation(errors);
        if (flowUpload is not null)
        {
            RgbVideo flowVideo;
            try
            {
                var decoded = await Mp4Reader.ReadAsync(flowUpload, ct);
                FlowVideoInput.FromVideo(decoded, new VideoGeometry(frames, height, width), "flow_video");
                flowVideo = decoded;
            }
            catch (Exception e) when (e is VideoDecodingException or FlowVideoInputException)
            {
                return ApiProblem.Validation([new FieldError("/flow_video", "invalid_flow_video", e.Message)]);
            }
            var shown = mode == "flow" ? flowVideo : TrajectoryPreview.FlowOver(flowVideo, image?.Bytes);
            var encoded = await Mp4Writer.EncodeAsync(shown, new Mp4Options { Fps = fps, Crf = 23, Preset = "veryfast" }, ct);
            return TypedResults.Ok(new TrajectoryPreviewResponse(frames, width, height, mode, [], null,
                "data:video/mp4;base64," + Convert.ToBase64String(encoded)));
        }

        var trajectories = GenerationRequestValidator.ValidateTrajectories(r.Trajectories, geometry, errors);
        if (errors.Count > 0) return ApiProblem.Validation(errors);

        var tracks = TrajectoryResampler.ToVideo(trajectories, geometry);
        var flow = FlowVideo.Create(tracks, geometry);
        var video = mode == "flow" ? TrajectoryPreview.FlowVideo(flow) : TrajectoryPreview.DrawPaths(tracks, geometry, image?.Bytes, TrajectoryPreview.EditorColours);
        var mp4 = await Mp4Writer.EncodeAsync(video, new Mp4Options { Fps = fps, Crf = 23, Preset = "veryfast" }, ct);
        return TypedResults.Ok(new TrajectoryPreviewResponse(frames, width, height, mode,
            tracks.Select(t => t.Select(p => new[] { p.X, p.Y }).ToArray()).ToArray(),
            Math.Round(flow.MaxNorm, 3),
            "data:video/mp4;base64," + Convert.ToBase64String(mp4)));
    }
}

/// <summary>Body of <c>POST /v1/trajectories/preview</c> (or its <c>request</c> part beside a <c>flow_video</c> MP4 part).</summary>
public sealed record TrajectoryPreviewRequest
{
    /// <summary>The trajectories (as in a generation request).</summary>
    public List<TrajectorySpec?>? Trajectories { get; init; }
    /// <summary>Model whose sizes apply (default: the first model).</summary>
    public string? Model { get; init; }
    /// <summary>Frames (default: the model's).</summary>
    public int? NumFrames { get; init; }
    /// <summary>Width (default: the model's).</summary>
    public int? Width { get; init; }
    /// <summary>Height (default: the model's).</summary>
    public int? Height { get; init; }
    /// <summary>Frames per second of the preview (default 8).</summary>
    public int? Fps { get; init; }
    /// <summary><c>flow</c> (the flow video Tora conditions on, default) or <c>paths</c> (paths over the image or white).</summary>
    public string? Mode { get; init; }
    /// <summary>First frame as a data URI, drawn under the paths in <c>paths</c> mode.</summary>
    public string? Image { get; init; }
}

/// <summary>The preview.</summary>
/// <param name="NumFrames">Frames.</param>
/// <param name="Width">Width.</param>
/// <param name="Height">Height.</param>
/// <param name="Mode">What the video shows.</param>
/// <param name="Points">Per trajectory, one <c>[x, y]</c> video pixel per frame (empty for an uploaded flow video).</param>
/// <param name="MaxFlowNorm">Largest per-frame displacement in pixels (what the flow colours are scaled by); null for an uploaded flow video.</param>
/// <param name="Video">The preview MP4 as a data URI.</param>
public sealed record TrajectoryPreviewResponse(
    int NumFrames,
    int Width,
    int Height,
    string Mode,
    int[][][] Points,
    double? MaxFlowNorm,
    string Video);

/// <summary>The presets.</summary>
/// <param name="Data">In alphabetical order.</param>
public sealed record PresetList(IReadOnlyList<PresetResource> Data);

/// <summary>One preset.</summary>
/// <param name="Name">Its name (the original file name).</param>
/// <param name="Space">Always <c>canvas256</c>.</param>
/// <param name="Points">The points.</param>
public sealed record PresetResource(
    string Name,
    string Space,
    double[][] Points);
