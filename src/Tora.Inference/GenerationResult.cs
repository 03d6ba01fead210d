using Tora.Contracts;
using Tora.Motion.Trajectories;

namespace Tora.Inference;

/// <summary>What one generation produced, and what identifies how it was made (the worker stores the latter as the
/// generation's reproducibility block, with the seed and the motion controls of the request).</summary>
public sealed record GenerationResult
{
    /// <summary>The MP4 written (the request's output path); null when the request asked for no file.</summary>
    public string? VideoPath { get; init; }

    /// <summary>Frames, height and width of the video.</summary>
    public required VideoGeometry Geometry { get; init; }

    /// <summary>Frames per second of the MP4.</summary>
    public required int Fps { get; init; }

    /// <summary>The video's pixels, 8-bit RGB <c>[F, H, W, 3]</c> without overlay; null where a generator keeps none.</summary>
    public byte[]? Pixels { get; init; }

    /// <summary>The final latents <c>[1, T, C, h, w]</c> (<see cref="LatentShape"/>); null where a generator keeps none.</summary>
    public float[]? FinalLatents { get; init; }

    /// <summary>The shape of <see cref="FinalLatents"/>.</summary>
    public int[]? LatentShape { get; init; }

    /// <summary>Wall time per phase (names from <see cref="GenerationPhases"/>).</summary>
    public required IReadOnlyDictionary<string, double> PhaseMilliseconds { get; init; }

    /// <summary>SHA-256 of the model package manifest.</summary>
    public required string ModelPackageHash { get; init; }

    /// <summary>Scheduler name and configuration summary.</summary>
    public required string Scheduler { get; init; }

    /// <summary>The ONNX Runtime version that ran the graphs.</summary>
    public required string OnnxRuntimeVersion { get; init; }

    /// <summary>The execution provider that ran the graphs (<c>CUDAExecutionProvider</c>, <c>CPUExecutionProvider</c>).</summary>
    public required string ExecutionProvider { get; init; }
}
