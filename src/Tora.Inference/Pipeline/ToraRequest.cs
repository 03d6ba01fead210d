using Tora.Inference.Noise;
using Tora.Motion.Trajectories;

namespace Tora.Inference.Pipeline;

/// <summary>Observes the latents after each denoising step (tests, previews): step index and <c>[1, T, C, h, w]</c>.</summary>
public delegate void StepObserver(int step, ReadOnlySpan<float> latents);

/// <summary>One generation for <see cref="ToraPipeline"/>. The video size is the package's (its graphs are compiled for one geometry).</summary>
public sealed record ToraRequest
{
    /// <summary>The text prompt.</summary>
    public required string Prompt { get; init; }

    /// <summary>The negative prompt (the unconditional branch is T5 of it, diffusers semantics, docs/model.md §5.4).</summary>
    public string NegativePrompt { get; init; } = "";

    /// <summary>Motion trajectories; empty: motion guidance off.</summary>
    public IReadOnlyList<Trajectory> Trajectories { get; init; } = [];

    /// <summary>
    /// A flow video already rendered, 8-bit RGB <c>[F, H, W, 3]</c> at the package's size, used for motion guidance
    /// instead of rendering <see cref="Trajectories"/> (which then only feed the overlay): a dense optical-flow
    /// video, or a flow video rendered elsewhere (the original's OpenCV blur, docs/model.md §9.2).
    /// </summary>
    public byte[]? FlowVideo { get; init; }

    /// <summary>Motion strength and step window (README, "Motion controls"); ignored without a motion input.</summary>
    public MotionControls Motion { get; init; } = MotionControls.Default;

    /// <summary>The first frame (encoded PNG/JPEG/WebP…) for image-to-video; required by an image-to-video package, refused by a text-to-video one.</summary>
    public byte[]? FirstFrame { get; init; }

    /// <summary>Video frames; null: the package's (49). Any other value is refused: the graphs are compiled for one length.</summary>
    public int? Frames { get; init; }

    /// <summary>Denoising steps (50 in the original).</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale (6); at or below 1 guidance is off.</summary>
    public double GuidanceScale { get; init; } = 6.0;

    /// <summary>Dynamic CFG from the timestep value (docs/model.md §5.3).</summary>
    public bool DynamicCfg { get; init; } = true;

    /// <summary>Every random draw of the job, in the original's order (seeded, replayed or recording).</summary>
    public required INoiseSource Noise { get; init; }

    /// <summary>Where to write the MP4; null: no video file (frames and latents are still returned).</summary>
    public string? OutputPath { get; init; }

    /// <summary>Frames per second of the MP4.</summary>
    public int Fps { get; init; } = 8;

    /// <summary>x264 CRF of the MP4 (18, the SAT writer's value).</summary>
    public int Crf { get; init; } = 18;

    /// <summary>Draw the trajectories over the MP4 (not over the returned frames).</summary>
    public bool OverlayTrajectory { get; init; }

    /// <summary>Called after every step with the latents (optional).</summary>
    public StepObserver? OnStep { get; init; }
}

/// <summary>What a generation produced.</summary>
/// <param name="Frames">The video, 8-bit RGB <c>[F, H, W, 3]</c> (without overlay).</param>
/// <param name="FrameCount">F.</param>
/// <param name="Height">H.</param>
/// <param name="Width">W.</param>
/// <param name="FinalLatents">The final latents <c>[1, T, C, h, w]</c>.</param>
/// <param name="LatentShape">The latent shape.</param>
/// <param name="PhaseMilliseconds">Wall time per phase.</param>
/// <param name="ExecutionProvider">The provider that ran the graphs.</param>
public sealed record ToraResult(byte[] Frames, int FrameCount, int Height, int Width, float[] FinalLatents, int[] LatentShape,
    IReadOnlyDictionary<string, double> PhaseMilliseconds, string ExecutionProvider);
