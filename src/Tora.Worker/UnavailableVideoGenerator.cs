using Microsoft.Extensions.Options;
using Tora.Inference;

namespace Tora.Worker;

/// <summary>
/// The generator registered when no model package is configured: it never produces a video. It says
/// precisely why, the heartbeat
/// carries that to <c>/health/ready</c> and <c>/v1/models</c>, and every job fails with <c>model_unavailable</c>.
/// </summary>
public sealed class UnavailableVideoGenerator(IOptions<WorkerOptions> options) : IVideoGenerator
{
    /// <summary>The stable error code of jobs it refuses.</summary>
    public const string ErrorCode = "model_unavailable";

    /// <inheritdoc />
    public VideoGeneratorStatus Status => new(false, options.Value.Model, Reason());

    /// <inheritdoc />
    public Task<VideoGenerationResult> GenerateAsync(VideoGenerationRequest request, IProgress<GenerationProgress> progress, CancellationToken cancellationToken) =>
        throw new VideoGenerationException(ErrorCode, Reason());

    private string Reason()
    {
        var package = options.Value.ResolvedModelPackage;
        if (package is null)
            return "no model package is configured: set Tora:Worker:ModelPackage (or TORA_MODEL_PACKAGE) to a folder made by 'tora model build'";
        return $"model package {package} is configured; the ONNX Tora pipeline serves it, not this generator";
    }
}
