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
    /// <summary>Sets every element of <paramref name="destination"/> to <paramref name="value"/>.</summary>
    public static unsafe void Fill(Span<float> destination, float value)
    {
        if (!Avx.IsSupported || destination.Length < 1024)
        {
            destination.Fill(value);
            return;
        }
        fixed (float* start = destination)
        {
            var p = start;
            var end = start + destination.Length;
            // Scalar head up to 32-byte alignment (streaming stores need aligned addresses).
            while (((nuint)p & 31) != 0) *p++ = value;
            var v = Vector256.Create(value);
            for (; p + 32 <= end; p += 32)
            {
                Avx.StoreAlignedNonTemporal(p, v);
                Avx.StoreAlignedNonTemporal(p + 8, v);
                Avx.StoreAlignedNonTemporal(p + 16, v);
                Avx.StoreAlignedNonTemporal(p + 24, v);
            }
            for (; p + 8 <= end; p += 8) Avx.StoreAlignedNonTemporal(p, v);
            while (p < end) *p++ = value;
            // Streaming stores are weakly ordered: fence before anyone else reads (or we overwrite) the buffer.
            Sse.StoreFence();
        }
    }

    /// <summary>Sets every byte of <paramref name="destination"/> to <paramref name="value"/>.</summary>
    public static unsafe void Fill(Span<byte> destination, byte value)
    {
        if (!Avx.IsSupported || destination.Length < 4096)
        {
            destination.Fill(value);
            return;
        }
        fixed (byte* start = destination)
        {
            var p = start;
            var end = start + destination.Length;
            while (((nuint)p & 31) != 0) *p++ = value;
            var v = Vector256.Create(value);
            for (; p + 128 <= end; p += 128)
            {
                Avx.StoreAlignedNonTemporal(p, v);
                Avx.StoreAlignedNonTemporal(p + 32, v);
                Avx.StoreAlignedNonTemporal(p + 64, v);
                Avx.StoreAlignedNonTemporal(p + 96, v);
            }
            for (; p + 32 <= end; p += 32) Avx.StoreAlignedNonTemporal(p, v);
            while (p < end) *p++ = value;
            Sse.StoreFence();
        }
    }
}
