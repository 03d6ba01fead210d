using Tora.Contracts;
using Tora.Inference.Noise;
using Tora.Inference.Sampling;
using Tora.Motion.Trajectories;

namespace Tora.Inference;

/// <summary>
/// One generation, as every caller of the pipeline states it: the worker (mapped from the stored generation input in
/// one place, <c>GenerationJob</c>), the <c>tora generate</c> command and the tests. Values of the service are already
/// validated; the pipeline checks again what the package decides (size, image-to-video, step count).
/// </summary>
public sealed record GenerationRequest
{
    /// <summary>The text prompt.</summary>
    public required string Prompt { get; init; }

    /// <summary>The negative prompt (the unconditional branch is T5 of it, diffusers semantics, docs/model.md §5.4); empty when none.</summary>
    public string NegativePrompt { get; init; } = "";

    /// <summary>Motion trajectories, already validated for the video; empty: motion guidance off.</summary>
    public IReadOnlyList<Trajectory> Trajectories { get; init; } = [];

    /// <summary>
    /// A flow video already rendered, 8-bit RGB <c>[F, H, W, 3]</c> at the video's size, used for motion guidance
    /// instead of rendering <see cref="Trajectories"/> (which then only feed the overlay): a dense optical-flow
    /// video, or a flow video rendered elsewhere (the original's OpenCV blur, docs/model.md §9.2); null: none.
    /// </summary>
    public byte[]? FlowVideo { get; init; }

    /// <summary>Motion strength and step window (README, "Motion controls"); ignored without a motion input.</summary>
    public MotionControls Motion { get; init; } = MotionControls.Default;

    /// <summary>The first frame (encoded PNG/JPEG/WebP…) for image-to-video; required by an image-to-video package, refused by a text-to-video one.</summary>
    public byte[]? FirstFrame { get; init; }

    /// <summary>
    /// Frames, height and width of the video; null: the package's. Any other geometry is refused
    /// (<see cref="GenerationErrorCodes.UnsupportedSize"/>): the graphs are compiled for one.
    /// </summary>
    public VideoGeometry? Geometry { get; init; }

    /// <summary>Denoising steps (50 in the original).</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale (6); at or below 1 guidance is off.</summary>
    public double GuidanceScale { get; init; } = 6.0;

    /// <summary>Dynamic CFG from the timestep value (docs/model.md §5.3).</summary>
    public bool DynamicCfg { get; init; } = true;

    /// <summary>The seed of the noise (resolved before the call: a stored generation always has one).</summary>
    public long Seed { get; init; }

    /// <summary>
    /// Every random draw of the job, in the original's order; null: the torch-compatible stream of <see cref="Seed"/>
    /// (docs/model.md §5.5). The command line and the tests give a replayed or recording source here.
    /// </summary>
    public INoiseSource? Noise { get; init; }

    /// <summary>Where to write the MP4 (its folder exists); null: no video file (pixels and latents are still returned).</summary>
    public string? OutputPath { get; init; }

    /// <summary>Frames per second of the MP4.</summary>
    public int Fps { get; init; } = 8;

    /// <summary>x264 CRF of the MP4 (18, the SAT writer's value).</summary>
    public int Crf { get; init; } = 18;

    /// <summary>Draw the trajectories over the MP4 (not over the returned pixels).</summary>
    public bool OverlayTrajectory { get; init; }

    /// <summary>Called after every denoising step with the latents (tests, previews); null: none.</summary>
    public StepObserver? OnStep { get; init; }

    /// <summary>The noise source in effect: <see cref="Noise"/>, or the seeded stream of <see cref="Seed"/>.</summary>
    public INoiseSource ResolveNoise() => Noise ?? new SeededNoiseSource(unchecked((ulong)Seed));
}
