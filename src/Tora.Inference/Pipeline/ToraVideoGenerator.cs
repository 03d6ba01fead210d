using Microsoft.ML.OnnxRuntime;
using Tora.Contracts;
using Tora.Motion.Video;

namespace Tora.Inference.Pipeline;

/// <summary>
/// <see cref="IVideoGenerator"/> over <see cref="ToraPipeline"/>: the worker's real generator. The package is opened
/// when the generator is created; when that fails, <see cref="Status"/> says why and every job fails with
/// <c>model_unavailable</c>. ONNX Runtime and ffmpeg failures become <see cref="GenerationException"/>s. One job at a time.
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
    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress> progress, CancellationToken cancellationToken)
    {
        var pipeline = _pipeline ?? throw new GenerationException(GenerationErrorCodes.ModelUnavailable, _detail);
        await _oneJob.WaitAsync(cancellationToken);
        try
        {
            // The pipeline computes synchronously between awaits: keep it off the caller's thread.
            return await Task.Run(() => pipeline.GenerateAsync(request, progress, cancellationToken), cancellationToken);
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
