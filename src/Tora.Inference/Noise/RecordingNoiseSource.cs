using Tora.Motion.IO;

namespace Tora.Inference.Noise;

/// <summary>
/// Passes draws through from another source and keeps a copy of each (skipped draws included, so that the
/// recording replays in the same order); <see cref="Save"/> writes them as <c>noise_000</c>, <c>noise_001</c>, …
/// to an <c>.npz</c> that <see cref="ReplayNoiseSource"/> reads (<c>--record-noise</c>). Recording copies every
/// draw, so it allocates; the plain sources do not.
/// </summary>
public sealed class RecordingNoiseSource(INoiseSource inner) : INoiseSource
{
    private readonly List<(int[] Shape, float[] Values, NoiseConsumer Consumer)> _draws = [];

    /// <inheritdoc />
    public int DrawCount => inner.DrawCount;

    /// <summary>The consumers of the recorded draws, in order.</summary>
    public IReadOnlyList<NoiseConsumer> Consumers => _draws.Select(d => d.Consumer).ToList();

    /// <inheritdoc />
    public void Draw(ReadOnlySpan<int> shape, Span<float> destination, NoiseConsumer consumer)
    {
        inner.Draw(shape, destination, consumer);
        _draws.Add((shape.ToArray(), destination.ToArray(), consumer));
    }

    /// <inheritdoc />
    public void Skip(ReadOnlySpan<int> shape, NoiseConsumer consumer)
    {
        var values = new float[checked((int)NoiseShape.Count(shape))];
        inner.Draw(shape, values, consumer);
        _draws.Add((shape.ToArray(), values, consumer));
    }

    /// <summary>Writes every draw so far to <paramref name="path"/>.</summary>
    public void Save(string path) =>
        NpzFile.Write(path, _draws.Select((d, i) =>
            new KeyValuePair<string, NpyArray>(NoiseShape.Key(i), NpyArray.FromFloats(d.Values, d.Shape))));
}
