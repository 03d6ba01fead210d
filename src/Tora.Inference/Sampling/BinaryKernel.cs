using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tora.Inference.Sampling;

/// <summary>
/// A float32 function of two values, written for one element and for a <see cref="Vector{T}"/> block with the same
/// operations in the same order; <see cref="BinaryKernel{TOperator}"/> applies it across spans.
/// </summary>
internal interface IBinaryOperator
{
    /// <summary>The function of one element of each input.</summary>
    float Invoke(float x, float y);

    /// <summary>The function of one block of each input.</summary>
    Vector<float> Invoke(Vector<float> x, Vector<float> y);
}

/// <summary><c>destination[i] = op(x[i], y[i])</c>; <paramref name="destination"/> may be one of the inputs.</summary>
internal readonly ref struct BinaryKernel<TOperator>(TOperator op, ReadOnlySpan<float> x, ReadOnlySpan<float> y,
    Span<float> destination) : IElementwiseKernel where TOperator : struct, IBinaryOperator
{
    private readonly ref float _x = ref MemoryMarshal.GetReference(x);
    private readonly ref float _y = ref MemoryMarshal.GetReference(y);
    private readonly ref float _d = ref MemoryMarshal.GetReference(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Block(nuint i) => op.Invoke(Vector.LoadUnsafe(ref _x, i), Vector.LoadUnsafe(ref _y, i)).StoreUnsafe(ref _d, i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Element(nuint i) => Unsafe.Add(ref _d, i) = op.Invoke(Unsafe.Add(ref _x, i), Unsafe.Add(ref _y, i));
}
