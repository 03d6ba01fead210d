namespace Tora.Inference.Noise;

/// <summary>Who consumes a random draw; named in errors and recordings.</summary>
public enum NoiseConsumer
{
    /// <summary>The VAE posterior sample of the flow video latents (text-to-video), <c>[1, C, T, h, w]</c>.</summary>
    FlowPosterior,

    /// <summary>The VAE posterior sample of the first-frame latents (image-to-video), <c>[1, C, 1, h, w]</c>.</summary>
    ImagePosterior,

    /// <summary>The initial latents <c>[1, T, C, h, w]</c>.</summary>
    InitialLatents,

    /// <summary>A draw of a DPM scheduler step <c>[1, T, C, h, w]</c> (one at the first and last step, two
    /// otherwise, of which only the second is used).</summary>
    SchedulerStep,
}

/// <summary>
/// The single source of every random draw of one generation, consumed in the order of the original diffusers
/// pipeline's one CPU <c>torch.Generator</c> (docs/model.md §5.5; tests/data/fixtures/README.md, confirmed by the tiny
/// text-to-video loop, whose eight draws are one seed-42 stream):
/// <list type="number">
/// <item>text-to-video: the flow video's VAE posterior sample <c>[1, 16, T, h, w]</c> (only with a trajectory);</item>
/// <item>image-to-video: the first frame's VAE posterior sample <c>[1, 16, 1, h, w]</c> — diffusers draws it first,
/// and samples the flow posterior without the generator (docs/model.md §5.5, §9.11);</item>
/// <item>the initial latents <c>[1, T, 16, h, w]</c> (<c>init_noise_sigma = 1</c>);</item>
/// <item>the scheduler: 1 draw at step 0, 2 at each middle step (the first unused), 1 at the last step
/// (<see cref="Tora.Inference.Sampling.DpmSolverStepper"/> takes them).</item>
/// </list>
/// Implementations: <see cref="SeededNoiseSource"/> (the torch-compatible stream from a seed),
/// <see cref="ReplayNoiseSource"/> (draws read from an <c>.npz</c>) and <see cref="RecordingNoiseSource"/> (writes
/// what another source drew); <see cref="NoiseSources.Open"/> builds them from the CLI options.
/// </summary>
public interface INoiseSource
{
    /// <summary>Number of draws consumed so far.</summary>
    int DrawCount { get; }

    /// <summary>Fills <paramref name="destination"/> (C order, as many elements as <paramref name="shape"/>
    /// holds) with the next standard-normal float32 draw.</summary>
    void Draw(ReadOnlySpan<int> shape, Span<float> destination, NoiseConsumer consumer);

    /// <summary>Consumes the next draw without reading its values (a draw the sampler takes but does not use);
    /// the stream advances exactly as <see cref="Draw"/> would.</summary>
    void Skip(ReadOnlySpan<int> shape, NoiseConsumer consumer);
}

/// <summary>A noise draw that does not fit the request: wrong shape, or the recording ran out.</summary>
public sealed class NoiseSourceException(string message) : Exception(message);

internal static class NoiseShape
{
    public static long Count(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in noise shape {Format(shape)}");
            n *= d;
        }
        return n;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public static void CheckDestination(ReadOnlySpan<int> shape, int destinationLength)
    {
        if (Count(shape) != destinationLength)
            throw new ArgumentException(
                $"noise destination holds {destinationLength} values but shape {Format(shape)} needs {Count(shape)}");
    }

    /// <summary>The name of draw <paramref name="index"/> in a noise file: <c>noise_000</c>, <c>noise_001</c>, …</summary>
    public static string Key(int index) => $"noise_{index:D3}";
}
