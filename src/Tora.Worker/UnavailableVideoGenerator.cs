using Microsoft.Extensions.Options;
using Tora.Contracts;
using Tora.Inference;
using Tora.Inference.Package;

namespace Tora.Worker;

/// <summary>
/// The generator registered when no model package is configured: it never produces a video. It says
/// precisely why, the heartbeat
/// carries that to <c>/health/ready</c> and <c>/v1/models</c>, and every job fails with <c>model_unavailable</c>.
/// </summary>
public sealed class UnavailableVideoGenerator(IOptions<WorkerOptions> options) : IVideoGenerator
{
    /// <inheritdoc />
    public VideoGeneratorStatus Status => new(false, options.Value.Model, Reason());

    /// <inheritdoc />
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress> progress, CancellationToken cancellationToken) =>
        throw new GenerationException(GenerationErrorCodes.ModelUnavailable, Reason());

    private string Reason()
    {
        var package = options.Value.ResolvedModelPackage;
        if (package is null)
            return "no model package is configured: set Tora:Worker:ModelPackage (or TORA_MODEL_PACKAGE) to a folder made by 'tora model build'";
        // Normally only registered without a package (WorkerHost.CreateGenerator); with one it still says what is wrong with it.
        if (!Directory.Exists(package)) return $"model package folder {package} does not exist";
        if (!File.Exists(Path.Combine(package, ModelManifest.FileName))) return $"model package {package} has no {ModelManifest.FileName}";
        try
        {
            var manifest = ModelManifest.Read(package);
            return $"model package {package} ({manifest.ModelType}, {manifest.Geometry.Frames} frames at {manifest.Geometry.Width}x{manifest.Geometry.Height}) " +
                   "is configured; the ONNX Tora pipeline serves it, not this generator";
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
        {
            return $"model package {package} cannot be used: {e.Message}";
        }
    }
}
