namespace Tora.Inference.Vae;

/// <summary>Conversions between the VAE's float frames in [−1, 1] and 8-bit video (docs/model.md §2.4, §5.8).</summary>
public static class VideoFrames
{
    /// <summary>
    /// Decoded frames [1, C, F, H, W] → 8-bit [F, H, W, C] with the diffusers rounding:
    /// <c>clamp(x / 2 + 0.5, 0, 1)</c>, then <c>round(v · 255)</c> with ties to even (NumPy), all in float32.
    /// </summary>
    public static byte[] ToUint8(ReadOnlySpan<float> sample, int channels, int frames, int height, int width)
    {
        var bytes = new byte[(long)channels * frames * height * width];
        WriteUint8(sample, channels, frames, height, width, bytes);
        return bytes;
    }

    /// <summary>As <see cref="ToUint8"/>, into <paramref name="destination"/> ([F, H, W, C], e.g. a slice of a whole clip).</summary>
    /// <exception cref="ArgumentException">The sizes do not match.</exception>
    public static void WriteUint8(ReadOnlySpan<float> sample, int channels, int frames, int height, int width, Span<byte> destination)
    {
        int plane = height * width;
        long count = (long)channels * frames * plane;
        if (sample.Length != count || destination.Length != count)
            throw new ArgumentException($"sample ({sample.Length}) and destination ({destination.Length}) must both hold {channels} x {frames} x {height} x {width} values");
        for (int c = 0; c < channels; c++)
            for (int f = 0; f < frames; f++)
            {
                var src = sample.Slice((c * frames + f) * plane, plane);
                int dst = f * plane * channels + c;
                for (int p = 0; p < plane; p++)
                {
                    float v = Math.Clamp(src[p] / 2f + 0.5f, 0f, 1f);
                    destination[dst + p * channels] = (byte)MathF.Round(v * 255f, MidpointRounding.ToEven);
                }
            }
    }

    /// <summary>
    /// 8-bit frames [F, C, H, W] (the flow video as Tora renders it) → float32 [1, C, F, H, W] in [−1, 1]:
    /// <c>x / 127.5 − 1</c> in float32, as the original's <c>video / (255 / 2) − 1</c>.
    /// </summary>
    public static float[] FromUint8Fchw(ReadOnlySpan<byte> frames, int count, int channels, int height, int width)
    {
        int plane = height * width;
        if (frames.Length != (long)count * channels * plane)
            throw new ArgumentException($"frames hold {frames.Length} bytes, not {count} x {channels} x {height} x {width}", nameof(frames));
        var result = new float[frames.Length];
        for (int f = 0; f < count; f++)
            for (int c = 0; c < channels; c++)
            {
                var src = frames.Slice((f * channels + c) * plane, plane);
                var dst = result.AsSpan((c * count + f) * plane, plane);
                for (int p = 0; p < plane; p++) dst[p] = src[p] / 127.5f - 1f;
            }
        return result;
    }
}
