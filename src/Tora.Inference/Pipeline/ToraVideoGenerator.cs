using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Noise;
using Tora.Motion.Video;

namespace Tora.Inference.Pipeline;

/// <summary>
/// <see cref="IVideoGenerator"/> over <see cref="ToraPipeline"/>: the worker's real generator. The package is opened
/// when the generator is created; when that fails, <see cref="Status"/> says why and every job fails with
/// <c>model_unavailable</c>. Seeds become the torch-compatible noise stream (docs/model.md §5.5). One job at a time.
/// </summary>
public sealed class ToraVideoGenerator : IVideoGenerator, IDisposable
{
    private readonly ToraPipeline? _pipeline;
    private readonly string _model;
    private readonly string _detail;
    private readonly SemaphoreSlim _oneJob = new(1, 1);

    /// <summary>Opens the package at <paramref name="packageFolder"/> to serve <paramref name="model"/>.</summary>
    public ToraVideoGenerator(string model, string packageFolder, ExecutionOptions? options = null)
    {
        _model = model;
        try
        {
            _pipeline = new ToraPipeline(ModelPackage.Open(packageFolder), options);
            var m = _pipeline.Package.Manifest;
            _detail = $"{m.ModelType} {m.Precision} package {_pipeline.Package.Folder} ({m.Geometry.Frames} frames {m.Geometry.Width}x{m.Geometry.Height}) on {_pipeline.ExecutionProvider} ({_pipeline.ExecutionProviderReason})";
        }
        catch (GenerationException e)
        {
            _detail = e.Message;
        }
    }

    /// <inheritdoc />
    public VideoGeneratorStatus Status => new(_pipeline is not null, _model, _detail);

    /// <inheritdoc />
    public async Task<VideoGenerationResult> GenerateAsync(VideoGenerationRequest request, IProgress<GenerationProgress> progress, CancellationToken cancellationToken)
    {
        var pipeline = _pipeline ?? throw new GenerationException(GenerationErrorCodes.ModelUnavailable, _detail);
        var g = pipeline.Package.Geometry;
        if (request.Width != g.Width || request.Height != g.Height || request.NumFrames != g.Frames)
            throw new GenerationException(GenerationErrorCodes.UnsupportedSize,
                $"the model package generates {g.Frames} frames of {g.Width}x{g.Height}, not {request.NumFrames} of {request.Width}x{request.Height}");
        var job = new ToraRequest
        {
            Prompt = request.Prompt,
            NegativePrompt = request.NegativePrompt,
            Trajectories = request.Trajectories,
            FirstFrame = request.FirstFrame,
            FlowVideo = request.FlowVideo,
            Frames = request.NumFrames,
            Steps = request.Steps,
            GuidanceScale = request.GuidanceScale,
            DynamicCfg = request.DynamicCfg,
            Noise = new SeededNoiseSource(unchecked((ulong)request.Seed)),
            OutputPath = request.OutputPath,
            Fps = request.Fps,
            OverlayTrajectory = request.OverlayTrajectory,
            Motion = request.Motion,
        };
        await _oneJob.WaitAsync(cancellationToken);
        try
        {
            // The pipeline computes synchronously between awaits: keep it off the caller's thread.
            var result = await Task.Run(() => pipeline.GenerateAsync(job, progress, cancellationToken), cancellationToken);
            var scheduler = pipeline.Package.SchedulerConfig;
            var reproducibility = new Reproducibility(pipeline.Package.ManifestHash,
                $"CogVideoXDPMScheduler {scheduler.TimestepSpacing} {scheduler.PredictionType} steps={request.Steps} cfg={request.GuidanceScale} dynamic_cfg={request.DynamicCfg}",
                OrtEnv.Instance().GetVersionString(), result.ExecutionProvider);
            return new VideoGenerationResult(request.OutputPath, result.FrameCount, request.Fps, reproducibility, result.PhaseMilliseconds);
        }
        catch (VideoEncodingException e)
        {
            throw new GenerationException(GenerationErrorCodes.VideoEncodingFailed, e.Message, e);
        }
        catch (OnnxRuntimeException e)
        {
            throw new GenerationException(GenerationErrorCodes.InferenceFailed, $"ONNX Runtime failed: {e.Message.Split('\n', 2)[0]}", e);
        }
        finally
        {
            _oneJob.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _pipeline?.Dispose();
        _oneJob.Dispose();
    }
}
