namespace Tora.Inference.Pipeline;

/// <summary>
/// Pillow's <c>Image.resize(size)</c> for 8-bit RGB with its default bicubic filter, value for value
/// (docs/model.md §4.4: the original image-to-video path resizes the first frame with <c>resize((W, H))</c>):
/// separable (horizontal pass, then vertical), cubic convolution with a = −0.5 widened by the scale when
/// shrinking (antialiasing), weights normalised per output pixel and applied in 22-bit fixed point with
/// clipping to 8 bits after each pass, exactly as libImaging's <c>Resample.c</c> does.
/// </summary>
public static class PillowBicubicResize
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const double Support = 2.0;

    /// <summary>Resizes RGB <c>[H, W, 3]</c> to <paramref name="outWidth"/> × <paramref name="outHeight"/>.</summary>
    public static byte[] Resize(ReadOnlySpan<byte> rgb, int width, int height, int outWidth, int outHeight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outHeight, 1);
        if (rgb.Length != width * height * 3) throw new ArgumentException($"the image holds {rgb.Length} bytes, not {width} x {height} x 3", nameof(rgb));
        var (kh, bh, ksh) = Coefficients(width, outWidth);
        var (kv, bv, ksv) = Coefficients(height, outHeight);

        // Only the rows the vertical pass reads go through the horizontal pass (libImaging's ybox).
        int first = bv[0], last = bv[2 * outHeight - 2] + bv[2 * outHeight - 1];
        byte[] source = rgb.ToArray();
        int rows = height;
        if (outWidth != width)
        {
            rows = last - first;
            var temp = new byte[rows * outWidth * 3];
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < outWidth; x++)
                {
                    int min = bh[2 * x], count = bh[2 * x + 1];
                    int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                    for (int i = 0; i < count; i++)
                    {
                        int k = kh[x * ksh + i], p = ((y + first) * width + min + i) * 3;
                        s0 += source[p] * k;
                        s1 += source[p + 1] * k;
                        s2 += source[p + 2] * k;
                    }
                    int o = (y * outWidth + x) * 3;
                    (temp[o], temp[o + 1], temp[o + 2]) = (Clip8(s0), Clip8(s1), Clip8(s2));
                }
            source = temp;
            for (int y = 0; y < outHeight; y++) bv[2 * y] -= first;
        }
        if (outHeight == height && rows == height) return source;
        var result = new byte[outHeight * outWidth * 3];
        for (int y = 0; y < outHeight; y++)
        {
            int min = bv[2 * y], count = bv[2 * y + 1];
            for (int x = 0; x < outWidth; x++)
            {
                int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                for (int i = 0; i < count; i++)
                {
                    int k = kv[y * ksv + i], p = ((min + i) * outWidth + x) * 3;
                    s0 += source[p] * k;
                    s1 += source[p + 1] * k;
                    s2 += source[p + 2] * k;
                }
                int o = (y * outWidth + x) * 3;
                (result[o], result[o + 1], result[o + 2]) = (Clip8(s0), Clip8(s1), Clip8(s2));
            }
        }
        return result;
    }

    private static byte Clip8(int value) =>
        value >= 1 << PrecisionBits << 8 ? (byte)255 : value <= 0 ? (byte)0 : (byte)(value >> PrecisionBits);

    private static double Bicubic(double x)
    {
        const double a = -0.5;
        if (x < 0) x = -x;
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }

    /// <summary>libImaging <c>precompute_coeffs</c> + <c>normalize_coeffs_8bpc</c>: fixed-point weights and (first, count) per output pixel.</summary>
    private static (int[] Weights, int[] Bounds, int KernelSize) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = Support * filterScale;
        int kernelSize = (int)Math.Ceiling(support) * 2 + 1;
        var weights = new double[outSize * kernelSize];
        var bounds = new int[outSize * 2];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int min = (int)(center - support + 0.5); // C's truncating cast, as the original
            if (min < 0) min = 0;
            int max = (int)(center + support + 0.5);
            if (max > inSize) max = inSize;
            max -= min;
            double total = 0;
            for (int x = 0; x < max; x++)
            {
                double w = Bicubic((x + min - center + 0.5) * ss);
                weights[xx * kernelSize + x] = w;
                total += w;
            }
            for (int x = 0; x < max; x++)
                if (total != 0) weights[xx * kernelSize + x] /= total;
            bounds[2 * xx] = min;
            bounds[2 * xx + 1] = max;
        }
        var fixedPoint = new int[weights.Length];
        for (int i = 0; i < weights.Length; i++)
            fixedPoint[i] = weights[i] < 0
                ? (int)(-0.5 + weights[i] * (1 << PrecisionBits))
                : (int)(0.5 + weights[i] * (1 << PrecisionBits));
        return (fixedPoint, bounds, kernelSize);
    }
}
