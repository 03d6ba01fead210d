using Tora.Motion.IO;

namespace Tora.Inference.Noise;

/// <summary>
/// Replays draws recorded in an <c>.npz</c> file whose arrays <c>noise_000</c>, <c>noise_001</c>, … are float32
/// and in consumption order (what <see cref="RecordingNoiseSource"/> and the reference loops write). A draw whose
/// shape differs from the request, or a request past the last draw, is an error that names both.
/// </summary>
public sealed class ReplayNoiseSource : INoiseSource
{
    private readonly float[][] _draws;
    private readonly int[][] _shapes;
    private readonly string _origin;

    /// <summary>Replays the <c>noise_NNN</c> arrays of <paramref name="arrays"/>; other keys are ignored.</summary>
    public ReplayNoiseSource(IReadOnlyDictionary<string, NpyArray> arrays, string origin = "noise file")
    {
        _origin = origin;
        var draws = new List<float[]>();
        var shapes = new List<int[]>();
        for (var i = 0; arrays.TryGetValue(NoiseShape.Key(i), out var array); i++)
        {
            if (array.DType != "f4")
                throw new NoiseSourceException($"{origin}: {NoiseShape.Key(i)} is {array.DType}, expected float32 (f4)");
            draws.Add(array.ToFloats());
            shapes.Add(array.Shape);
        }
        var stray = arrays.Keys.FirstOrDefault(k => k.StartsWith("noise_", StringComparison.Ordinal)
            && int.TryParse(k.AsSpan(6), out var n) && n >= draws.Count);
        if (stray is not null)
            throw new NoiseSourceException($"{origin}: {stray} follows a gap (the draws stop at {NoiseShape.Key(draws.Count)})");
        if (draws.Count == 0)
            throw new NoiseSourceException($"{origin}: no noise_000, noise_001, … arrays");
        _draws = draws.ToArray();
        _shapes = shapes.ToArray();
    }

    /// <summary>Reads a noise file.</summary>
    public static ReplayNoiseSource Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"noise file '{path}' does not exist", path);
        Dictionary<string, NpyArray> arrays;
        try
        {
            arrays = NpzFile.Read(path);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or FormatException or ArgumentException)
        {
            throw new NoiseSourceException($"noise file '{path}' is not a readable .npz: {e.Message}");
        }
        return new ReplayNoiseSource(arrays, $"noise file '{path}'");
    }

    /// <summary>Number of draws in the file.</summary>
    public int Count => _draws.Length;

    /// <inheritdoc />
    public int DrawCount { get; private set; }

    /// <inheritdoc />
    public void Draw(ReadOnlySpan<int> shape, Span<float> destination, NoiseConsumer consumer)
    {
        NoiseShape.CheckDestination(shape, destination.Length);
        Next(shape, consumer).AsSpan().CopyTo(destination);
    }

    /// <inheritdoc />
    public void Skip(ReadOnlySpan<int> shape, NoiseConsumer consumer) => Next(shape, consumer);

    private float[] Next(ReadOnlySpan<int> shape, NoiseConsumer consumer)
    {
        var index = DrawCount;
        if (index >= _draws.Length)
            throw new NoiseSourceException(
                $"{_origin} holds {_draws.Length} draws; draw {index} ({consumer} {NoiseShape.Format(shape)}) has none");
        if (!shape.SequenceEqual(_shapes[index]))
            throw new NoiseSourceException(
                $"{_origin}: {NoiseShape.Key(index)} has shape {NoiseShape.Format(_shapes[index])} but draw {index} ({consumer}) needs {NoiseShape.Format(shape)}");
        DrawCount++;
        return _draws[index];
    }
}
