namespace Tora.Inference.Embeddings;

/// <summary>
/// The 3D rotary position tables CogVideoX feeds its attention (diffusers <c>get_3d_rotary_pos_embed</c> with
/// <c>use_real=True</c>, as the pipeline's <c>_prepare_rotary_positional_embeddings</c> calls it; docs/model.md
/// §4.2): the head dimension is split into time (¼), height (⅜) and width (⅜); each axis has frequencies
/// <c>1 / 10000^(2k/d)</c> over its positions, interleaved twice; rows are tokens in (frame, row, column) order.
/// Computed in float32 as diffusers computes them.
/// </summary>
public static class RotaryPositionalEmbedding3D
{
    private const double Theta = 10000.0;

    /// <summary>
    /// The crop of the base grid the positions span (diffusers <c>get_resize_crop_region_for_grid</c>): the latent
    /// patch grid is fitted into the base grid keeping its aspect ratio, and centred.
    /// </summary>
    public static (int Top, int Left, int Bottom, int Right) CropRegion(int gridHeight, int gridWidth, int baseHeight, int baseWidth)
    {
        double r = (double)gridHeight / gridWidth;
        int resizeHeight, resizeWidth;
        if (r > (double)baseHeight / baseWidth)
        {
            resizeHeight = baseHeight;
            resizeWidth = (int)Math.Round((double)baseHeight / gridHeight * gridWidth, MidpointRounding.ToEven);
        }
        else
        {
            resizeWidth = baseWidth;
            resizeHeight = (int)Math.Round((double)baseWidth / gridWidth * gridHeight, MidpointRounding.ToEven);
        }
        var top = (int)Math.Round((baseHeight - resizeHeight) / 2.0, MidpointRounding.ToEven);
        var left = (int)Math.Round((baseWidth - resizeWidth) / 2.0, MidpointRounding.ToEven);
        return (top, left, top + resizeHeight, left + resizeWidth);
    }

    /// <summary>
    /// Fills <paramref name="cos"/> and <paramref name="sin"/> (<c>[frames·gridHeight·gridWidth, headDim]</c>, C order)
    /// for a latent patch grid of <paramref name="gridHeight"/> × <paramref name="gridWidth"/> and
    /// <paramref name="frames"/> latent frames, positions spanning the crop of the
    /// <paramref name="baseHeight"/> × <paramref name="baseWidth"/> base grid (CogVideoX-5B: 30 × 45, i.e.
    /// 480 × 720 / (8 · 2); pipelines that read the transformer config use sample size / patch size).
    /// </summary>
    public static void Compute(int headDim, int frames, int gridHeight, int gridWidth, int baseHeight, int baseWidth,
        Span<float> cos, Span<float> sin)
    {
        if (headDim <= 0 || headDim % 8 != 0) throw new ArgumentException($"head dimension {headDim} is not a positive multiple of 8", nameof(headDim));
        if (frames <= 0 || gridHeight <= 0 || gridWidth <= 0 || baseHeight <= 0 || baseWidth <= 0)
            throw new ArgumentException("grid sizes must be positive");
        var tokens = frames * gridHeight * gridWidth;
        if (cos.Length != tokens * headDim || sin.Length != tokens * headDim)
            throw new ArgumentException($"tables need {tokens}×{headDim} values");

        var (top, left, bottom, right) = CropRegion(gridHeight, gridWidth, baseHeight, baseWidth);
        var dimT = headDim / 4;
        var dimH = headDim / 8 * 3;
        var dimW = headDim / 8 * 3;
        var (tCos, tSin) = Axis(dimT, Arange(frames));
        var (hCos, hSin) = Axis(dimH, Linspace(top, bottom, gridHeight));
        var (wCos, wSin) = Axis(dimW, Linspace(left, right, gridWidth));

        var row = 0;
        for (var f = 0; f < frames; f++)
        for (var h = 0; h < gridHeight; h++)
        for (var w = 0; w < gridWidth; w++, row++)
        {
            var c = cos.Slice(row * headDim, headDim);
            var s = sin.Slice(row * headDim, headDim);
            tCos.AsSpan(f * dimT, dimT).CopyTo(c);
            tSin.AsSpan(f * dimT, dimT).CopyTo(s);
            hCos.AsSpan(h * dimH, dimH).CopyTo(c[dimT..]);
            hSin.AsSpan(h * dimH, dimH).CopyTo(s[dimT..]);
            wCos.AsSpan(w * dimW, dimW).CopyTo(c[(dimT + dimH)..]);
            wSin.AsSpan(w * dimW, dimW).CopyTo(s[(dimT + dimH)..]);
        }
    }

    /// <summary>Allocating convenience: the <c>(cos, sin)</c> tables.</summary>
    public static (float[] Cos, float[] Sin) Compute(int headDim, int frames, int gridHeight, int gridWidth, int baseHeight, int baseWidth)
    {
        var n = frames * gridHeight * gridWidth * headDim;
        var cos = new float[n];
        var sin = new float[n];
        Compute(headDim, frames, gridHeight, gridWidth, baseHeight, baseWidth, cos, sin);
        return (cos, sin);
    }

    /// <summary>diffusers <c>get_1d_rotary_pos_embed(dim, pos, use_real=True)</c> in float32:
    /// <c>freqs = 1 / θ^(arange(0, dim, 2) / dim)</c>, <c>outer(pos, freqs)</c>, cos/sin, each repeated twice.</summary>
    private static (float[] Cos, float[] Sin) Axis(int dim, float[] positions)
    {
        var half = dim / 2;
        var freqs = new float[half];
        for (var k = 0; k < half; k++)
        {
            var exponent = (float)(2 * k) / dim;
            freqs[k] = 1f / (float)Math.Pow(Theta, exponent);
        }
        var cos = new float[positions.Length * dim];
        var sin = new float[positions.Length * dim];
        for (var p = 0; p < positions.Length; p++)
        for (var k = 0; k < half; k++)
        {
            var angle = positions[p] * freqs[k];
            cos[p * dim + 2 * k] = cos[p * dim + 2 * k + 1] = (float)Math.Cos(angle);
            sin[p * dim + 2 * k] = sin[p * dim + 2 * k + 1] = (float)Math.Sin(angle);
        }
        return (cos, sin);
    }

    private static float[] Arange(int n) => Enumerable.Range(0, n).Select(i => (float)i).ToArray();

    /// <summary><c>np.linspace(start, stop, num, endpoint=False, dtype=np.float32)</c>: float64 arithmetic, then cast.</summary>
    private static float[] Linspace(int start, int stop, int num)
    {
        var step = (double)(stop - start) / num;
        return Enumerable.Range(0, num).Select(i => (float)(i * step + start)).ToArray();
    }
}
