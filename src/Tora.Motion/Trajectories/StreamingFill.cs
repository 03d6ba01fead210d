using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tora.Motion.Trajectories;

/// <summary>
/// Fills large output buffers with non-temporal (streaming) stores where the CPU has them: the flow video is
/// mostly a constant (white) and far larger than the caches, so bypassing them avoids reading every line
/// before overwriting it and roughly halves the memory traffic of the fill.
/// </summary>
internal static class StreamingFill
{
    /// <summary>Below this many bytes a plain fill is as fast (the lines are not worth bypassing).</summary>
    private const int MinBytes = 4096;

    /// <summary>Sets every element of <paramref name="destination"/> to <paramref name="value"/>.</summary>
    public static unsafe void Fill<T>(Span<T> destination, T value) where T : unmanaged
    {
        if (!Avx.IsSupported || (long)destination.Length * sizeof(T) < MinBytes)
        {
            destination.Fill(value);
            return;
        }
        fixed (T* start = destination)
        {
            var p = start;
            var end = start + destination.Length;
            // Scalar head up to 32-byte alignment (streaming stores need aligned addresses).
            while (((nuint)p & 31) != 0) *p++ = value;
            var v = Vector256.Create(value);
            var w = Vector256<T>.Count;
            for (; p + 4 * w <= end; p += 4 * w)
            {
                v.StoreAlignedNonTemporal(p);
                v.StoreAlignedNonTemporal(p + w);
                v.StoreAlignedNonTemporal(p + 2 * w);
                v.StoreAlignedNonTemporal(p + 3 * w);
            }
            for (; p + w <= end; p += w) v.StoreAlignedNonTemporal(p);
            while (p < end) *p++ = value;
            // Streaming stores are weakly ordered: fence before anyone else reads (or we overwrite) the buffer.
            Sse.StoreFence();
        }
    }
}
