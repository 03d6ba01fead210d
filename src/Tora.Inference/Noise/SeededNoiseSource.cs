namespace Tora.Inference.Noise;

/// <summary>Draws from a torch-compatible CPU generator seeded once: the same seed gives the same video as the
/// original pipeline's <c>torch.Generator().manual_seed(seed)</c> (float32 draws, docs/model.md §5.5).</summary>
public sealed class SeededNoiseSource : INoiseSource
{
    private readonly TorchGenerator _generator;

    /// <summary>Creates the stream of <c>manual_seed(seed)</c>.</summary>
    public SeededNoiseSource(ulong seed) => _generator = new TorchGenerator(seed);

    /// <summary>The seed of the stream.</summary>
    public ulong Seed => _generator.InitialSeed;

    /// <inheritdoc />
    public int DrawCount { get; private set; }

    /// <inheritdoc />
    public void Draw(ReadOnlySpan<int> shape, Span<float> destination, NoiseConsumer consumer)
    {
        NoiseShape.CheckDestination(shape, destination.Length);
        _generator.Randn(destination);
        DrawCount++;
    }

    /// <inheritdoc />
    public void Skip(ReadOnlySpan<int> shape, NoiseConsumer consumer)
    {
        _generator.SkipRandn(NoiseShape.Count(shape));
        DrawCount++;
    }
}
