namespace Tora.Inference;

/// <summary>
/// The one seam between the service (the worker) and the Tora pipeline: turns one validated request into an
/// MP4 file. The real implementation is the ONNX Runtime Tora pipeline; the worker knows nothing else of it.
/// Implementations report progress once per denoising step and check the cancellation token
/// between steps (docs/architecture.md §4), and throw <see cref="GenerationException"/> for failures that running
/// the same request again would not fix.
/// </summary>
public interface IVideoGenerator
{
    /// <summary>Describes the loaded model, or why none is usable (the worker publishes this in its heartbeat).</summary>
    VideoGeneratorStatus Status { get; }

    /// <summary>Runs the whole pipeline for <paramref name="request"/> and writes the MP4 to <see cref="GenerationRequest.OutputPath"/>.</summary>
    Task<GenerationResult> GenerateAsync(
        GenerationRequest request, IProgress<GenerationProgress> progress, CancellationToken cancellationToken);
}

/// <summary>Whether a generator can run jobs, and for which model.</summary>
/// <param name="Ready">True when jobs can run.</param>
/// <param name="Model">The model name served (queue names derive from it).</param>
/// <param name="Detail">Why it is not ready, or a one-line description of what is loaded.</param>
public sealed record VideoGeneratorStatus(bool Ready, string Model, string Detail);
