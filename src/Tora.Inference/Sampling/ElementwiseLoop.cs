using System.Numerics;
using System.Runtime.CompilerServices;

namespace Tora.Inference.Sampling;

/// <summary>
/// One element-wise float32 kernel over spans it holds: what it computes for a <see cref="Vector{T}"/>-wide block
/// and for a single element. Both members perform the same float32 operations in the same order (no fused
/// multiply-add), so an element rounds the same whether it falls in a block or in the scalar tail.
/// </summary>
internal interface IElementwiseKernel
{
    /// <summary>Computes the elements <c>[i, i + Vector&lt;float&gt;.Count)</c>.</summary>
    void Block(nuint i);

    /// <summary>Computes element <paramref name="i"/>.</summary>
    void Element(nuint i);
}

/// <summary>
/// The one loop every element-wise kernel runs in: whole <see cref="Vector{T}"/> blocks while they fit (when the
/// hardware accelerates them), then the remaining elements one by one. The kernel is a struct type argument, so
/// the JIT compiles one specialised loop per kernel with its members inlined, and nothing is allocated.
/// </summary>
internal static class ElementwiseLoop
{
    /// <summary>Runs <paramref name="kernel"/> over elements <c>[0, length)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TKernel>(TKernel kernel, int length) where TKernel : IElementwiseKernel, allows ref struct
    {
        nuint i = 0, n = (nuint)length;
        if (Vector.IsHardwareAccelerated)
        {
            var width = (nuint)Vector<float>.Count;
            for (; i + width <= n; i += width) kernel.Block(i);
        }
        for (; i < n; i++) kernel.Element(i);
    }
}

