using Tora.Motion.Trajectories;

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

    /// <summary>Runs the whole pipeline for <paramref name="request"/> and writes the MP4 to <see cref="VideoGenerationRequest.OutputPath"/>.</summary>
    Task<VideoGenerationResult> GenerateAsync(
        VideoGenerationRequest request, IProgress<GenerationProgress> progress, CancellationToken cancellationToken);
}

/// <summary>Everything the pipeline needs for one video. Values are already validated and resolved (seed included).</summary>
public sealed record VideoGenerationRequest
{
    /// <summary>The text prompt.</summary>
    public required string Prompt { get; init; }
    /// <summary>The negative prompt (empty when none).</summary>
    public string NegativePrompt { get; init; } = "";
    /// <summary>Motion trajectories, already validated for this size (may be empty: then Tora runs without motion guidance).</summary>
    public IReadOnlyList<Trajectory> Trajectories { get; init; } = [];
    /// <summary>The first frame as encoded image bytes (PNG/JPEG/WebP), for image-to-video; null for text-to-video.</summary>
    public byte[]? FirstFrame { get; init; }
    /// <summary>A flow video, 8-bit RGB <c>[F, H, W, 3]</c> at the output size, used as the motion input instead of trajectories; null: none.</summary>
    public byte[]? FlowVideo { get; init; }
    /// <summary>Frames in the output video.</summary>
    public required int NumFrames { get; init; }
    /// <summary>Output width in pixels.</summary>
    public required int Width { get; init; }
    /// <summary>Output height in pixels.</summary>
    public required int Height { get; init; }
    /// <summary>Denoising steps.</summary>
    public required int Steps { get; init; }
    /// <summary>Classifier-free guidance scale.</summary>
    public required double GuidanceScale { get; init; }
    /// <summary>Whether the guidance scale follows CogVideoX's cosine schedule over the steps.</summary>
    public required bool DynamicCfg { get; init; }
    /// <summary>The seed of the initial noise (always resolved before the call).</summary>
    public required long Seed { get; init; }
    /// <summary>Frames per second of the MP4.</summary>
    public required int Fps { get; init; }
    /// <summary>Draw the trajectories over the output video.</summary>
    public bool OverlayTrajectory { get; init; }
    /// <summary>Motion strength and step window (already validated).</summary>
    public MotionControls Motion { get; init; } = MotionControls.Default;
    /// <summary>Where to write the MP4 (the folder exists; the file does not).</summary>
    public required string OutputPath { get; init; }
}

/// <summary>Progress of one generation: reported once per denoising step, and once per other phase.</summary>
/// <param name="Phase">A short phase name: <c>encode_text</c>, <c>encode_motion</c>, <c>denoise</c>, <c>decode</c>, <c>encode_video</c>.</param>
/// <param name="Step">Denoising steps done (0 outside <c>denoise</c> before the first step).</param>
/// <param name="TotalSteps">Denoising steps in all.</param>
/// <param name="Elapsed">Time since the pipeline started the job (zero where the reporter does not time it).</param>
public sealed record GenerationProgress(string Phase, int Step, int TotalSteps, TimeSpan Elapsed = default);

/// <summary>What identifies how a video was made, so that it can be made again.</summary>
/// <param name="ModelPackageHash">SHA-256 of the model package manifest.</param>
/// <param name="Scheduler">Scheduler name and configuration summary.</param>
/// <param name="OnnxRuntimeVersion">The ONNX Runtime version that ran the graphs.</param>
/// <param name="ExecutionProvider">The execution provider used (<c>CUDAExecutionProvider</c>, <c>CPUExecutionProvider</c>).</param>
public sealed record Reproducibility(string ModelPackageHash, string Scheduler, string OnnxRuntimeVersion, string ExecutionProvider);

/// <summary>The finished video.</summary>
/// <param name="VideoPath">The MP4 written (equals the request's output path).</param>
/// <param name="FrameCount">Frames in the MP4.</param>
/// <param name="Fps">Frames per second of the MP4.</param>
/// <param name="Reproducibility">How it was made.</param>
/// <param name="PhaseMilliseconds">Wall time per phase (same names as <see cref="GenerationProgress.Phase"/>).</param>
public sealed record VideoGenerationResult(
    string VideoPath, int FrameCount, int Fps, Reproducibility Reproducibility, IReadOnlyDictionary<string, double> PhaseMilliseconds);

/// <summary>Whether a generator can run jobs, and for which model.</summary>
/// <param name="Ready">True when jobs can run.</param>
/// <param name="Model">The model name served (queue names derive from it).</param>
/// <param name="Detail">Why it is not ready, or a one-line description of what is loaded.</param>
public sealed record VideoGeneratorStatus(bool Ready, string Model, string Detail);
