using System.Buffers;

namespace Tora.Models.Graph;

/// <summary>
/// The data of one initializer, produced only when the graph is written, so that a converter never holds
/// a whole model in memory: each source decodes its tensor (from a memory-mapped checkpoint or a small
/// computed array) into float32, optionally rearranges it, and the writer encodes it to the graph's
/// storage type straight into the model or external data file.
/// </summary>
public abstract class WeightSource
{
    /// <summary>Shape of the initializer as stored in the graph.</summary>
    public abstract long[] Shape { get; }

    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Fills <paramref name="destination"/> (length <see cref="ElementCount"/>) with the values in graph layout.</summary>
    public abstract void ReadFloats(Span<float> destination);

    /// <summary>Writes the tensor encoded as <paramref name="type"/> to <paramref name="stream"/>.</summary>
    public virtual void WriteTo(Stream stream, ElementType type)
    {
        // One tensor at a time: the largest CogVideoX-5B/T5-XXL tensor (T5 embedding 32128 x 4096) is 0.5 GB
        // as float32, well inside the converter's 3 GB budget.
        // Pooled buffers: one multi-hundred-MB array per tensor would otherwise pile up on the large object
        // heap between collections and dominate the converter's peak RSS.
        int n = checked((int)ElementCount);
        var floats = ArrayPool<float>.Shared.Rent(n);
        const int chunk = 1 << 20;
        var bytes = ArrayPool<byte>.Shared.Rent(chunk * type.Size());
        try
        {
            ReadFloats(floats.AsSpan(0, n));
            for (int i = 0; i < n; i += chunk)
            {
                int len = Math.Min(chunk, n - i);
                ElementTypes.EncodeFromFloat(floats.AsSpan(i, len), type, bytes);
                stream.Write(bytes, 0, len * type.Size());
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<float>.Shared.Return(floats);
        }
    }
}

/// <summary>A weight computed by the builder (constants, tables): values already in memory.</summary>
public sealed class ArrayWeight(float[] values, params long[] shape) : WeightSource
{
    /// <inheritdoc />
    public override long[] Shape { get; } = Check(values, shape);

    /// <inheritdoc />
    public override void ReadFloats(Span<float> destination) => values.CopyTo(destination);

    private static long[] Check(float[] values, long[] shape)
    {
        if (shape.Aggregate(1L, (a, b) => a * b) != values.LongLength)
            throw new ArgumentException($"{values.Length} values do not fill shape [{string.Join(", ", shape)}]");
        return shape;
    }
}

/// <summary>Another source with its 2-D matrix transposed ([out, in] Linear weight → [in, out] MatMul operand).</summary>
public sealed class TransposedWeight(WeightSource inner) : WeightSource
{
    /// <inheritdoc />
    public override long[] Shape { get; } = inner.Shape.Length == 2
        ? [inner.Shape[1], inner.Shape[0]]
        : throw new ArgumentException("only 2-D weights can be transposed");

    /// <inheritdoc />
    public override void ReadFloats(Span<float> destination)
    {
        int rows = (int)inner.Shape[0], cols = (int)inner.Shape[1];
        int n = checked(rows * cols);
        var src = ArrayPool<float>.Shared.Rent(n);
        try
        {
            inner.ReadFloats(src.AsSpan(0, n));
            // 32 × 32 tiles keep both the reads and the strided writes in cache (≈ 4× faster than row by row
            // on a 12 288 × 3 072 matrix; WeightConversionBenchmarks).
            const int tile = 32;
            for (int r0 = 0; r0 < rows; r0 += tile)
                for (int c0 = 0; c0 < cols; c0 += tile)
                {
                    int r1 = Math.Min(r0 + tile, rows), c1 = Math.Min(c0 + tile, cols);
                    for (int r = r0; r < r1; r++)
                        for (int c = c0; c < c1; c++)
                            destination[c * rows + r] = src[r * cols + c];
                }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(src);
        }
    }
}

/// <summary>Another source reinterpreted with a new shape of the same element count (no data movement).</summary>
public sealed class ReshapedWeight(WeightSource inner, params long[] shape) : WeightSource
{
    /// <inheritdoc />
    public override long[] Shape { get; } = shape.Aggregate(1L, (a, b) => a * b) == inner.ElementCount
        ? shape
        : throw new ArgumentException($"cannot reshape [{string.Join(", ", inner.Shape)}] to [{string.Join(", ", shape)}]");

    /// <inheritdoc />
    public override void ReadFloats(Span<float> destination) => inner.ReadFloats(destination);
}

/// <summary>A contiguous row range of another 2-D-or-more source along its first axis (chunks of a fused Linear).</summary>
public sealed class RowSliceWeight(WeightSource inner, long start, long count) : WeightSource
{
    /// <inheritdoc />
    public override long[] Shape { get; } = [count, .. inner.Shape[1..]];

    /// <inheritdoc />
    public override void ReadFloats(Span<float> destination)
    {
        int n = checked((int)inner.ElementCount);
        var all = ArrayPool<float>.Shared.Rent(n);
        try
        {
            inner.ReadFloats(all.AsSpan(0, n));
            long row = inner.ElementCount / inner.Shape[0];
            all.AsSpan((int)(start * row), (int)(count * row)).CopyTo(destination);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(all);
        }
    }
}
